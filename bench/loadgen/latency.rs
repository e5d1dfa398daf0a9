//! Latency histograms that several worker processes can merge: each prints its recorded
//! values as (microseconds, count) pairs, and the orchestrator adds them up.

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// 1 µs to 10 minutes at 3 significant figures.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

pub fn record(histogram: &mut Histogram<u64>, micros: u64) {
    histogram.saturating_record(micros.max(1));
}

/// Percentiles for reading, and the raw pairs for merging.
pub fn to_json(histogram: &Histogram<u64>) -> Value {
    let pairs: Vec<[u64; 2]> = histogram
        .iter_recorded()
        .map(|v| [v.value_iterated_to(), v.count_at_value()])
        .collect();
    json!({
        "count": histogram.len(),
        "p50_us": histogram.value_at_quantile(0.50),
        "p99_us": histogram.value_at_quantile(0.99),
        "p999_us": histogram.value_at_quantile(0.999),
        "max_us": histogram.max(),
        "pairs": pairs,
    })
}
