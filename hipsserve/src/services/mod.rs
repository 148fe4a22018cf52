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

use http::header::{self, HeaderMap};
use http::StatusCode;

use crate::catalog::auth::Decision;
use crate::catalog::Hips;
use crate::reply::{hv, Reply};
use crate::state::State;

/// The 401/403 answer when the caller may not read HiPS `h` (`None`: allowed): the same for its tiles and every
/// service that returns its pixels or its coadds.
#[must_use]
pub fn denied(state: &State, headers: &HeaderMap, h: &Hips) -> Option<Reply> {
    match state.auth.check(&h.settings, headers) {
        Decision::Allow => None,
        Decision::Unauthenticated { invalid } => {
            let mut r = Reply::text(StatusCode::UNAUTHORIZED, "authentication required");
            let realm = state.auth.realm();
            let chal = if invalid {
                format!("Bearer realm=\"{realm}\", error=\"invalid_token\"")
            } else {
                format!("Bearer realm=\"{realm}\"")
            };
            r.headers_mut().insert(header::WWW_AUTHENTICATE, hv(&chal));
            Some(r)
        }
        Decision::Forbidden => Some(Reply::text(StatusCode::FORBIDDEN, "forbidden")),
    }
}
