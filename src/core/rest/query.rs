//! The queries of the list route and of the stream routes: a query string
//! or decoded pairs, read into parameters and parsed into a [`ListQuery`]
//! or a [`StreamQuery`].

use super::url::decode;
use super::{Query, Stream};
use crate::core::error::Error;
use crate::core::query::{ListQuery, Order, MAX_PAGE_SIZE};
use crate::core::status::Status;

/// One query parameter: a decoded name and its value, still encoded when it
/// came from a query string.
struct Param {
    name: String,
    value: String,
    encoded: bool,
}

impl Param {
    fn decoded(&self) -> Result<String, Error> {
        if self.encoded {
            decode(&self.value, true)
                .map_err(|why| Error::invalid(format!("query.{}", self.name), why))
        } else {
            Ok(self.value.clone())
        }
    }

    /// The comma-separated items: decoded first, then split on `,`, so a
    /// list built with `URLSearchParams` (which writes `,` as `%2C`) works.
    fn items(&self) -> Result<Vec<String>, Error> {
        let field = format!("query.{}", self.name);
        let value = self.decoded()?;
        value
            .split(',')
            .map(|item| {
                if item.is_empty() {
                    Err(Error::invalid(
                        &field,
                        format!("{value:?} has an empty item in its comma list"),
                    ))
                } else {
                    Ok(item.to_owned())
                }
            })
            .collect()
    }
}

fn params(query: &Query) -> Result<Vec<Param>, Error> {
    match query {
        Query::Pairs(pairs) => Ok(pairs
            .iter()
            .map(|(name, value)| Param {
                name: name.clone(),
                value: value.clone(),
                encoded: false,
            })
            .collect()),
        Query::Text(text) => {
            let text = text.strip_prefix('?').unwrap_or(text);
            let mut out = Vec::new();
            for pair in text.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let name = decode(name, true).map_err(|why| Error::invalid("query", why))?;
                // Checked now so that malformed encoding is a 400 wherever it is.
                decode(value, true).map_err(|why| Error::invalid(format!("query.{name}"), why))?;
                out.push(Param {
                    name,
                    value: value.to_owned(),
                    encoded: true,
                });
            }
            Ok(out)
        }
    }
}

/// Parses the list route's query into a [`ListQuery`] (the rules are in the
/// [`rest`](super) module docs); every problem is `INVALID_ARGUMENT` naming
/// the parameter.
pub fn list_query(query: &Query) -> Result<ListQuery, Error> {
    let mut q = ListQuery::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let params = params(query)?;
    for param in &params {
        if param.value.is_empty() {
            continue;
        }
        let name: &'static str = match param.name.as_str() {
            "status" => "status",
            "type" => "type",
            "targetId" => "targetId",
            "page" => "page",
            "page_size" | "pageSize" => "page_size",
            "order" => "order",
            "cursor" => "cursor",
            _ => continue,
        };
        let field = format!("query.{}", param.name);
        match name {
            "status" => {
                let mut statuses = q.statuses.take().unwrap_or_default();
                for item in param.items()? {
                    let status = Status::parse(&item).ok_or_else(|| {
                        Error::invalid(
                            &field,
                            format!(
                                "{item:?} is not \"pending\", \"running\", \"completed\", \"failed\" or \"cancelled\""
                            ),
                        )
                    })?;
                    statuses.push(status);
                }
                q.statuses = Some(statuses);
                continue;
            }
            "type" => {
                let mut types = q.types.take().unwrap_or_default();
                types.extend(param.items()?);
                q.types = Some(types);
                continue;
            }
            _ => {}
        }
        if seen.contains(&name) {
            return Err(Error::invalid(&field, "is given more than once"));
        }
        seen.push(name);
        let value = param.decoded()?;
        match name {
            "targetId" => q.target_id = Some(value),
            "page" => {
                q.page = Some(
                    digits(&value, 9_007_199_254_740_991)
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| {
                            Error::invalid(&field, format!("must be an integer ≥ 1, got {value:?}"))
                        })?,
                );
            }
            "page_size" => {
                q.page_size = Some(
                    digits(&value, MAX_PAGE_SIZE as u64)
                        .filter(|&n| n >= 1)
                        .map(|n| n as usize)
                        .ok_or_else(|| {
                            Error::invalid(
                                &field,
                                format!("must be an integer from 1 to 1000, got {value:?}"),
                            )
                        })?,
                );
            }
            "order" => {
                q.order = Order::parse(&value).map_err(|_| {
                    Error::invalid(
                        &field,
                        format!("must be \"asc\" or \"desc\", got {value:?}"),
                    )
                })?;
            }
            _ => q.cursor = Some(value),
        }
    }
    Ok(q)
}

/// The query of a stream route (`/api/v1/events` reads all three fields,
/// `/api/v1/executions/{id}/events` only `throttle_ms`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamQuery {
    /// `targetId`: one target.
    pub target_id: Option<String>,
    /// `type`: comma-separated (or repeated) types, any of them.
    pub types: Option<Vec<String>>,
    /// `throttle_ms`: a whole number of milliseconds, as `subscribe`'s
    /// `throttleMs` (alias `throttleMs`).
    pub throttle_ms: Option<u64>,
}

impl StreamQuery {
    /// The stream of one execution with this query's throttle.
    pub fn of_execution(self, id: String) -> Stream {
        Stream::Execution {
            id,
            throttle_ms: self.throttle_ms,
        }
    }

    /// The stream of every execution matching this query.
    pub fn of_all(self) -> Stream {
        Stream::All {
            target_id: self.target_id,
            types: self.types,
            throttle_ms: self.throttle_ms,
        }
    }
}

/// Parses a stream route's query, with the list route's rules (an empty
/// value is absent, `type` a comma list that may be repeated, any other
/// parameter given twice is 400, unknown ones are ignored). `throttle_ms`
/// is plain decimal digits, at most 2^53 − 1.
pub fn stream_query(query: &Query) -> Result<StreamQuery, Error> {
    let mut q = StreamQuery::default();
    let mut seen: Vec<&'static str> = Vec::new();
    for param in &params(query)? {
        if param.value.is_empty() {
            continue;
        }
        let name: &'static str = match param.name.as_str() {
            "type" => {
                let mut types = q.types.take().unwrap_or_default();
                types.extend(param.items()?);
                q.types = Some(types);
                continue;
            }
            "targetId" => "targetId",
            "throttle_ms" | "throttleMs" => "throttle_ms",
            _ => continue,
        };
        let field = format!("query.{}", param.name);
        if seen.contains(&name) {
            return Err(Error::invalid(&field, "is given more than once"));
        }
        seen.push(name);
        let value = param.decoded()?;
        if name == "targetId" {
            q.target_id = Some(value);
        } else {
            q.throttle_ms = Some(digits(&value, 9_007_199_254_740_991).ok_or_else(|| {
                Error::invalid(
                    &field,
                    format!("must be a whole number of milliseconds ≥ 0, got {value:?}"),
                )
            })?);
        }
    }
    Ok(q)
}

/// A decimal integer of ASCII digits only, at most `max`.
fn digits(text: &str, max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|&n| n <= max)
}
