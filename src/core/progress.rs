//! Progress reports and their arithmetic.

use super::error::{Error, Result};
use super::json::{write_f64, write_key, write_opt_f64, write_opt_str};

/// The latest progress of an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Work done so far: finite, ≥ 0 (it may go down).
    pub current: f64,
    /// Total work, finite and > 0, when known.
    pub total: Option<f64>,
    /// A human-readable note.
    pub message: Option<String>,
    /// When it was reported, ms since epoch.
    pub updated_at: f64,
}

impl Progress {
    /// Validates a report; `null`/absent `total` and `message` are `None`.
    pub fn new(
        current: f64,
        total: Option<f64>,
        message: Option<String>,
        now: f64,
    ) -> Result<Progress> {
        if !current.is_finite() || current < 0.0 {
            return Err(Error::invalid(
                "current",
                "must be a finite number greater than or equal to 0",
            ));
        }
        if let Some(t) = total {
            if !t.is_finite() || t <= 0.0 {
                return Err(Error::invalid(
                    "total",
                    "must be a finite number greater than 0",
                ));
            }
        }
        Ok(Progress {
            current: current + 0.0, // folds -0 into 0
            total,
            message,
            updated_at: now,
        })
    }

    /// `min(100, current / total * 100)` when `total` is known.
    pub fn percentage(&self) -> Option<f64> {
        self.total.map(|t| (self.current / t * 100.0).min(100.0))
    }

    /// Appends the contract's `Progress` object as JSON text.
    pub fn write_json(&self, out: &mut String) {
        out.push('{');
        write_key(out, "current");
        write_f64(out, self.current);
        out.push(',');
        write_key(out, "total");
        write_opt_f64(out, self.total);
        out.push(',');
        write_key(out, "message");
        write_opt_str(out, self.message.as_deref());
        out.push(',');
        write_key(out, "percentage");
        write_opt_f64(out, self.percentage());
        out.push(',');
        write_key(out, "updatedAt");
        write_f64(out, self.updated_at);
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentage_is_capped_and_absent_without_total() {
        let p = Progress::new(5.0, Some(10.0), None, 0.0).unwrap();
        assert_eq!(p.percentage(), Some(50.0));
        let p = Progress::new(15.0, Some(10.0), None, 0.0).unwrap();
        assert_eq!(p.percentage(), Some(100.0));
        let p = Progress::new(3.0, None, Some("x".into()), 0.0).unwrap();
        assert_eq!(p.percentage(), None);
    }

    #[test]
    fn invalid_reports_name_the_field() {
        for (c, t, field) in [
            (-1.0, None, "current"),
            (f64::NAN, None, "current"),
            (f64::INFINITY, None, "current"),
            (1.0, Some(0.0), "total"),
            (1.0, Some(-2.0), "total"),
            (1.0, Some(f64::NAN), "total"),
        ] {
            let e = Progress::new(c, t, None, 0.0).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT");
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn json_shape() {
        let p = Progress::new(1.0, Some(4.0), Some("a".into()), 7.0).unwrap();
        let mut s = String::new();
        p.write_json(&mut s);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"current":1,"total":4,"message":"a","percentage":25,"updatedAt":7})
        );
    }
}
