//! The OpenAPI 3.1 document of the routes: kept readable in `openapi.json`
//! beside the router, and served with the whitespace between its tokens
//! taken out at compile time (the text of its strings is left as it is).
//! `tests/core_openapi.rs` checks it against [`ROUTES`](super::ROUTES).

/// `openapi.json` as written.
pub const PRETTY: &str = include_str!("openapi.json");

const LEN: usize = minify::<0>(PRETTY.as_bytes()).1;
// A const, not a static (a const reading a static's bytes crashes rustc 1.95): used once, by
// OPENAPI, so it is not copied anywhere else.
#[allow(clippy::large_const_arrays)]
const MINIFIED: [u8; LEN] = minify::<LEN>(PRETTY.as_bytes()).0;

/// The document as `GET /api/v1/openapi.json` serves it: `openapi.json`
/// without the whitespace between its tokens.
pub const OPENAPI: &str = match core::str::from_utf8(&MINIFIED) {
    Ok(text) => text,
    // Evaluated by the compiler: a document that is not UTF-8 fails the build.
    #[allow(clippy::panic)]
    Err(_) => panic!("openapi.json is not UTF-8"),
};

/// JSON text without the whitespace outside its strings, in the first `N`
/// bytes of the array (`N = 0`: only counts), and its length. Runs at
/// compile time only: an index past `N` would fail the build, not a call.
#[allow(clippy::indexing_slicing)]
const fn minify<const N: usize>(text: &[u8]) -> ([u8; N], usize) {
    let mut out = [0u8; N];
    let (mut i, mut n) = (0, 0);
    let (mut in_string, mut escaped) = (false, false);
    while i < text.len() {
        let b = text[i];
        let keep = if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            true
        } else {
            in_string = b == b'"';
            !matches!(b, b' ' | b'\t' | b'\n' | b'\r')
        };
        if keep {
            if N > 0 {
                out[n] = b;
            }
            n += 1;
        }
        i += 1;
    }
    (out, n)
}
