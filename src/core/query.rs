//! List queries: filters, ordering, page or cursor, and the opaque cursor format.

use super::error::{Error, Result};
use super::status::Status;

/// The largest page size accepted.
pub const MAX_PAGE_SIZE: usize = 1000;
/// The page size used when none is given.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Listing order, by creation sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    #[default]
    Desc,
}

impl Order {
    /// Parses `"asc"` or `"desc"`.
    pub fn parse(text: &str) -> Result<Order> {
        match text {
            "asc" => Ok(Order::Asc),
            "desc" => Ok(Order::Desc),
            _ => Err(Error::invalid("query.order", "must be \"asc\" or \"desc\"")),
        }
    }

    fn tag(self) -> char {
        match self {
            Order::Asc => 'a',
            Order::Desc => 'd',
        }
    }
}

/// Where a cursor page starts: strictly after `after` in `order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The order the cursor was made for.
    pub order: Order,
    /// The creation sequence of the last item already returned.
    pub after: u64,
}

impl Cursor {
    /// The opaque text handed to callers as `nextCursor`: the order, the
    /// sequence in hex, and a check so that made-up strings are refused.
    pub fn encode(self) -> String {
        format!("{}{:x}.{:04x}", self.order.tag(), self.after, self.check())
    }

    /// Parses a `nextCursor` previously returned.
    pub fn decode(text: &str) -> Result<Cursor> {
        let bad = || Error::invalid("query.cursor", "is not a cursor returned by list()");
        let mut chars = text.chars();
        let order = match chars.next() {
            Some('a') => Order::Asc,
            Some('d') => Order::Desc,
            _ => return Err(bad()),
        };
        let (hex, check) = chars.as_str().split_once('.').ok_or_else(bad)?;
        let is_hex = |s: &str, max: usize| {
            !s.is_empty()
                && s.len() <= max
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !is_hex(hex, 16) || check.len() != 4 || !is_hex(check, 4) {
            return Err(bad());
        }
        let after = u64::from_str_radix(hex, 16).map_err(|_| bad())?;
        let cursor = Cursor { order, after };
        if u16::from_str_radix(check, 16).ok() != Some(cursor.check()) {
            return Err(bad());
        }
        Ok(cursor)
    }

    fn check(self) -> u16 {
        let mut h = self.after ^ 0x9E37_79B9_7F4A_7C15 ^ u64::from(self.order.tag() as u8);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (h >> 48) as u16
    }
}

/// A validated `list()` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Any of these statuses (`None`: any status).
    pub statuses: Option<Vec<Status>>,
    /// Any of these types (`None`: any type).
    pub types: Option<Vec<String>>,
    /// Only this target.
    pub target_id: Option<String>,
    /// 1-based page number (`None`: page 1, or the cursor's page).
    pub page: Option<u64>,
    /// Items per page, 1..=1000.
    pub page_size: Option<usize>,
    /// Creation order.
    pub order: Order,
    /// Continue after a previous page.
    pub cursor: Option<String>,
}

/// Where a validated query starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Skip this many matching items.
    Offset(u64),
    /// Start strictly after this creation sequence.
    After(u64),
}

impl ListQuery {
    /// Checks the paging fields and resolves where the page starts.
    pub fn start(&self) -> Result<(Start, usize)> {
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(Error::invalid(
                "query.pageSize",
                "must be an integer from 1 to 1000",
            ));
        }
        match (&self.cursor, self.page) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "query.cursor",
                "cannot be combined with query.page",
            )),
            (Some(text), None) => {
                let cursor = Cursor::decode(text)?;
                if cursor.order != self.order {
                    return Err(Error::invalid(
                        "query.cursor",
                        "was made for the other order; pass the same order again",
                    ));
                }
                Ok((Start::After(cursor.after), size))
            }
            (None, page) => {
                let page = page.unwrap_or(1);
                if page == 0 {
                    return Err(Error::invalid("query.page", "must be an integer ≥ 1"));
                }
                Ok((Start::Offset((page - 1).saturating_mul(size as u64)), size))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for c in [
            Cursor {
                order: Order::Asc,
                after: 0,
            },
            Cursor {
                order: Order::Desc,
                after: u64::MAX,
            },
            Cursor {
                order: Order::Desc,
                after: 12345,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        }
        let forged = Cursor {
            order: Order::Desc,
            after: 0x1f,
        }
        .encode()
        .replacen("d1f.", "d20.", 1);
        for bad in [
            forged.as_str(),
            "abc",
            "d1",
            "d1.",
            "d1.zzzz",
            "",
            "a",
            "x12",
            "a-1",
            "aG",
            "a11111111111111111",
            "d 1",
            "dAB",
            "é",
        ] {
            assert_eq!(
                Cursor::decode(bad).unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{bad}"
            );
        }
    }

    #[test]
    fn paging_fields_are_checked() {
        let q = ListQuery {
            page_size: Some(0),
            ..Default::default()
        };
        assert!(q
            .start()
            .unwrap_err()
            .to_string()
            .contains("query.pageSize"));
        let q = ListQuery {
            page_size: Some(1001),
            ..Default::default()
        };
        assert!(q.start().is_err());
        let q = ListQuery {
            page: Some(0),
            ..Default::default()
        };
        assert!(q.start().unwrap_err().to_string().contains("query.page"));
        let q = ListQuery {
            page: Some(3),
            page_size: Some(10),
            ..Default::default()
        };
        assert_eq!(q.start(), Ok((Start::Offset(20), 10)));
        let q = ListQuery {
            page: Some(1),
            cursor: Some("d1".into()),
            ..Default::default()
        };
        assert!(q.start().unwrap_err().to_string().contains("query.cursor"));
        let q = ListQuery {
            cursor: Some(
                Cursor {
                    order: Order::Asc,
                    after: 1,
                }
                .encode(),
            ),
            ..Default::default()
        };
        assert!(q.start().unwrap_err().to_string().contains("other order"));
        let q = ListQuery {
            cursor: Some(
                Cursor {
                    order: Order::Desc,
                    after: 0x1f,
                }
                .encode(),
            ),
            ..Default::default()
        };
        assert_eq!(q.start(), Ok((Start::After(0x1f), 20)));
    }
}
