// Shared by the storage unit tests: a temporary directory removed at the end of the test, a queue
// opened in it (a failure is a test failure, with RocksDB's message), and the database opened
// behind the queue's back to damage it.
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "storage/queue.h"

namespace ringmta::storage::test_support {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ringmta-storage-XXXXXX").string();
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::unique_ptr<Queue> must_open(const std::string& dir) {
  auto q = Queue::open(dir);
  EXPECT_TRUE(q.ok()) << (q.ok() ? "" : q.error().message);
  return q.ok() ? std::move(q).value() : nullptr;
}

// The queue's database opened behind its back (the queue closed), to plant what the queue itself
// never writes.
class RawDb {
 public:
  explicit RawDb(const std::string& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* n : {"default", "messages", "domains", "queue", "meta"}) {
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    }
    opened_ = rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles_, &db_).ok();
  }
  ~RawDb() {
    for (auto* h : handles_) EXPECT_TRUE(db_->DestroyColumnFamilyHandle(h).ok());
    delete db_;
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  bool opened() const { return opened_; }
  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* queue() const { return handles_.at(3); }
  rocksdb::ColumnFamilyHandle* meta() const { return handles_.at(4); }

 private:
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::DB* db_ = nullptr;
  bool opened_ = false;
};

// Overwrites the start of the queue column family's SST files (their first data block) with
// garbage, so that reading them fails; returns how many files it damaged. The queue must be
// closed; recipients enqueued kIngestMin or more at once are in such a file.
inline std::size_t damage_queue_files(const std::string& dir) {
  std::vector<std::string> paths;
  {
    RawDb raw(dir);
    EXPECT_TRUE(raw.opened());
    if (!raw.opened()) return 0;
    std::vector<rocksdb::LiveFileMetaData> files;
    raw.db()->GetLiveFilesMetaData(&files);
    for (const auto& f : files) {
      if (f.column_family_name == "queue") paths.push_back(f.db_path + f.name);
    }
  }
  const std::string garbage(32, '\xff');
  for (const auto& path : paths) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(16);
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    EXPECT_TRUE(f) << "cannot damage " << path;
  }
  return paths.size();
}

}  // namespace ringmta::storage::test_support
