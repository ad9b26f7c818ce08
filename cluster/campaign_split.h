// Campaign split: which live node takes which destination domain of a campaign, and a recipient
// list cut into one CSV per node by that rule. Rendezvous hashing (the node whose hash of
// node+domain is highest): every node computes the same owner from the same members, all of a
// domain's recipients go to one node (so its throttles, connections and duplicate check see the
// whole domain), and a node joining or leaving moves only the domains it wins or held.
// Rows without a readable address go to the node that takes the empty domain, to be refused
// there with ingest's own words (the same node whichever node splits: a list posted again to
// another node is cut into the same parts, byte for byte, which the campaign's idempotence needs);
// rows the CSV reader cannot read at all are returned with ingest's reason. Each part keeps, per row, the line it had in the list, so that a part's
// rejected rows are named as the user's list names them.
// It may not: send parts anywhere (service/cluster_campaigns does), or judge a row (ingest does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace ringmta::cluster {

// The index in `nodes` (non-empty) of the node that takes `domain` (lower-case).
std::size_t owner_of(std::string_view domain, const std::vector<std::string>& nodes);

// One node's part: a CSV file (the list's header row, then the node's rows) removed with it.
class ListPart {
 public:
  // A new part file in `dir` for `node`, its first row `header`.
  static Result<ListPart> create(const std::string& dir, std::string node,
                                 const std::vector<std::string>& header);
  ListPart(ListPart&& other) noexcept;
  ListPart& operator=(ListPart&&) = delete;
  ListPart(const ListPart&) = delete;
  ~ListPart();

  const std::string& node() const { return node_; }
  const std::string& path() const { return path_; }
  uint64_t rows() const { return list_lines_.size(); }
  // The list's line of the part's row that starts at `part_line` (0: none).
  std::size_t list_line(std::size_t part_line) const;
  // Appends a row (its fields as read) that started on `list_line` of the list.
  Result<void> append(const std::vector<std::string>& fields, std::size_t list_line);
  Result<void> close();  // flushed and closed: ready to be read or sent
  // The rows of `other` (closed) appended to this part, with their list lines (a closed part is
  // opened again; close() it once more before it is read).
  Result<void> take_rows_of(const ListPart& other);

 private:
  ListPart(std::string node, std::string path, std::FILE* file)
      : node_(std::move(node)), path_(std::move(path)), file_(file) {}
  Result<void> write_row(const std::vector<std::string>& fields);
  std::string node_;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::size_t next_line_ = 1;  // the line the next row starts on in the part file
  std::vector<std::size_t> part_lines_, list_lines_;
};

struct UnreadableRow {
  std::size_t line = 0;
  std::string reason;
};

struct SplitList {
  // False when the list has no "email" column: nothing was split (parts is empty), and the list
  // is queued whole where it arrived, to be refused there with ingest's words.
  bool split = false;
  std::vector<ListPart> parts;  // parts[i] for nodes[i], in the files of `dir`
  std::vector<UnreadableRow> unreadable;
};

// Cuts the CSV at list_path into one part per node (in `dir`).
Result<SplitList> split_list(const std::string& list_path, const std::vector<std::string>& nodes,
                             const std::string& dir);

}  // namespace ringmta::cluster
