//! The HTTP layer, from the wire inwards: the listening sockets (`listen`), accept loop and hyper adapter ([`server`]), the HTTP/1.1
//! connection loop (`conn`) with its request classification (`parse`) and per-thread cache of hot paths (`front`),
//! the request handler ([`handler`]: one request -> one response), CORS (`cors`) and the URL layout ([`routing`]).

mod conn;
mod cors;
mod error;
mod front;
pub mod handler;
mod listen;
mod parse;
pub mod routing;
pub mod server;
