// The codec benchmark behind `fls bench codec`: encode and reconstruct data
// rates of every requested backend over the same buffers, with raw ISA-L
// ec_encode_data (backend "isal-raw") measured in the same run as the peer.
// Rates are data rates: k x block bytes per second, in 10^9 bytes (GB/s).
// The batch is the working set each repetition sweeps: a few hundred KiB keeps
// it in cache, a batch far beyond the last-level cache rotates through memory.
// Thread-safety: RunCodecBench is not reentrant (it uses all cores it is given).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "fls/status.h"

namespace fls::bench {

struct CodecShape {
  int k, m;
};

struct CodecBenchOptions {
  std::vector<std::string> backends;  // empty: every usable backend
  std::vector<CodecShape> shapes{{10, 4}, {6, 3}, {17, 3}};
  std::vector<std::size_t> block_bytes{64 << 10, 1 << 20, 16 << 20};
  std::vector<int> lost{1, 4};     // reconstruct rows: this many data shards lost (<= m)
  std::vector<int> threads{1, 0};  // 0 = every core
  // Data bytes per batch (at least one stripe): one value for every block
  // size, or one per entry of block_bytes (cache-resident small blocks and
  // memory-rotated large ones in the same run).
  std::vector<std::size_t> batch_bytes{64 << 20};
  double min_seconds = 0.4;  // measure each row at least this long
  int best_of = 1;           // split that time into slices; report the fastest
  // Time rows by the process's CPU time instead of the wall clock: on a host
  // time-shared with other work, a 1-thread row then gives the rate of one
  // core while it runs this code (rows with threads > 1 are rejected).
  bool cpu_time = false;
  // Also "encode_crc" rows: encode with the CRC32C of every data and parity
  // block (EncodeBatch::block_crcs); for isal-raw, ec_encode_data then
  // crc32_iscsi over each block of the stripe; and a row of backend "crc32c",
  // op "checksum": Crc32c alone over every block, as a data rate (the ceiling
  // of an encode_crc that checksums with it).
  bool crc = false;
  // Also rows of backend "memory" (one thread, the same working set as the
  // batch): op "read" streams every data and parity block, op "write" fills
  // m blocks per stripe; data_gbps is then bytes read or written per second.
  bool memory = false;
};

struct CodecBenchRow {
  std::string backend;
  std::string op;  // encode | encode_crc | reconstruct | checksum | read | write
  int k = 0, m = 0, lost = 0;
  std::size_t block_bytes = 0, stripes = 0;
  int threads = 1;
  double seconds = 0;    // time of the measured repetitions
  double data_gbps = 0;  // k * block_bytes * stripes * reps / seconds / 1e9
};

// Runs every combination, calling `on_row` as each row is measured.
Status RunCodecBench(const CodecBenchOptions& options,
                     const std::function<void(const CodecBenchRow&)>& on_row);

}  // namespace fls::bench
