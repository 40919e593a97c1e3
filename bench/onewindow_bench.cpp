// Runs every benchmark registered in this folder.
#include <benchmark/benchmark.h>
BENCHMARK_MAIN();
