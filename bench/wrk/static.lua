-- The baseline: the same server's static answer (GET /healthz), with the same summary line.
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout +
                 summary.errors.status
  io.write(string.format("SOAK requests=%d errors=%d p50_ms=%.3f p99_ms=%.3f seconds=%.3f\n", summary.requests, errors,
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
