// CRC32C (Castagnoli, the iSCSI CRC) through ISA-L's hardware-accelerated
// crc32_iscsi. Standard form: pre- and post-inverted, so Crc32c("123456789")
// is 0xE3069283, and calls chain: Crc32c(b, n2, Crc32c(a, n1)) equals the CRC
// of a followed by b. Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fls {

std::uint32_t Crc32c(const void* data, std::size_t len, std::uint32_t crc_so_far = 0);

}  // namespace fls
