//! A summary of durations (count, mean, median, 90th percentile): what the statistics
//! and the follow-ups' ages both report. Pure.

use serde::Serialize;

/// Count, mean, median and 90th percentile of durations, in seconds; `null` when none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl Summary {
    /// The same from a sketch: count and mean exact, percentiles within its error.
    pub fn of_sketch(sketch: &super::sketch::Sketch) -> Summary {
        let n = sketch.count().max(0);
        Summary {
            count: n as u64,
            mean: (n > 0).then(|| sketch.sum() / n as f64),
            median: sketch.quantile(0.5),
            p90: sketch.quantile(0.9),
        }
    }

    pub fn of(mut values: Vec<f64>) -> Summary {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let percentile = |p: f64| {
            (n > 0).then(|| {
                let h = (n - 1) as f64 * p;
                let (low, frac) = (h.floor() as usize, h - h.floor());
                let high = (low + 1).min(n - 1);
                values[low] + frac * (values[high] - values[low])
            })
        };
        Summary {
            count: n as u64,
            mean: (n > 0).then(|| values.iter().sum::<f64>() / n as f64),
            median: percentile(0.5),
            p90: percentile(0.9),
        }
    }
}
