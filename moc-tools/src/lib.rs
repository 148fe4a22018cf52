//! MOC (Multi-Order Coverage map) building, set operations and IVOA MOC 2.0 serialization.
