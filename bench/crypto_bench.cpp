// Benchmarks for src/crypto. Compare BM_SM2_Sign with `openssl speed sm2` (sign/s) on the same
// machine: the module should reach at least 90% of it.
#include <benchmark/benchmark.h>

#include "bench_support.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "crypto/crypto.h"

namespace {

using onewindow::crypto::Bytes;
using onewindow::crypto::PrivateKey;
using onewindow::crypto::Sm4Envelope;

using onewindow::bench::or_die;

constexpr std::string_view short_message = "license 2026-000042 issued to applicant 7";

void BM_SM3_1MiB(benchmark::State& state) {
  Bytes data(1 << 20, 0x5a);
  for (auto _ : state) {
    benchmark::DoNotOptimize(onewindow::crypto::sm3(data));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(data.size()));
}
BENCHMARK(BM_SM3_1MiB);

void BM_SM2_Sign(benchmark::State& state) {
  PrivateKey key = or_die(PrivateKey::generate());
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.sign(short_message));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SM2_Sign);

void BM_SM2_Verify(benchmark::State& state) {
  PrivateKey key = or_die(PrivateKey::generate());
  Bytes signature = or_die(key.sign(short_message));
  const auto& public_key = key.public_key();
  for (auto _ : state) {
    if (!public_key.verify(short_message, signature).ok()) state.SkipWithError("did not verify");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SM2_Verify);

void BM_SM4_Envelope_Encrypt_1KiB(benchmark::State& state) {
  Sm4Envelope envelope = or_die(Sm4Envelope::create(or_die(onewindow::crypto::random_bytes(16))));
  Bytes plaintext(1024, 0x42);
  Bytes associated(24, 0x17);
  for (auto _ : state) {
    benchmark::DoNotOptimize(envelope.encrypt(plaintext, associated));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 1024);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SM4_Envelope_Encrypt_1KiB);

}  // namespace
