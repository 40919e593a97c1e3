-- The one line each of the soak's wrk scripts ends with, which scripts/soak reads: requests,
-- errors (refused connections, timeouts and answers of 400 and above), p50 and p99 in milliseconds.
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout +
                 summary.errors.status
  io.write(string.format("SOAK requests=%d errors=%d p50_ms=%.3f p99_ms=%.3f seconds=%.3f\n", summary.requests, errors,
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
