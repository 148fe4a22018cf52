//! What the server answers, by kind of request: the stored files of a HiPS ([`tiles`], with [`conditional`] requests,
//! ranges and content coding), tiles rendered on demand ([`ondemand`]), progenitor queries ([`progenitors`]) and
//! SODA cutouts ([`soda`]), images of any WCS ([`hips2fits`]); storage failures are answered alike by all ([`failure`]).

pub mod conditional;
pub mod failure;
pub mod hips2fits;
pub mod ondemand;
pub mod progenitors;
pub mod soda;
pub mod tiles;
pub mod vo;
