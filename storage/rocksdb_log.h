// The queue database's RocksDB info log, sent to stderr (warnings and errors only) instead of a
// LOG file in the database directory. A LOG file shares the queue's disk: when that disk is full,
// RocksDB 7.8 builds with assertions abort the process on the next log line after a failed LOG
// append (WritableFileWriter::AssertFalseAndGetStatusForPrevError). Disk full must be an Error.
//
// It may not: write files, block on anything but stderr, or filter what RocksDB reports as errors.
#pragma once

#include <rocksdb/env.h>

#include <memory>

namespace ringmta::storage {

std::shared_ptr<rocksdb::Logger> make_stderr_rocksdb_logger(
    rocksdb::InfoLogLevel level = rocksdb::InfoLogLevel::WARN_LEVEL);

}  // namespace ringmta::storage
