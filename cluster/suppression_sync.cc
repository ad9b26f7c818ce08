// SuppressionSync (see suppression_sync.h): outbox to stream, stream to list.
#include "cluster/suppression_sync.h"

#include <array>
#include <map>
#include <optional>
#include <vector>

#include "cluster/redis_script.h"
#include "storage/records.h"

namespace ringmta::cluster {
namespace {

// KEYS[1]: the stream; ARGV: node, then per entry op ("add" or "remove"), address, category,
// reason, campaign, since.
constexpr const char* kPublish = R"lua(
local n = 0
for i = 2, #ARGV, 6 do
  if ARGV[i] == 'remove' then
    redis.call('XADD', KEYS[1], '*', 'node', ARGV[1], 'op', 'remove', 'address', ARGV[i + 1])
  else
    redis.call('XADD', KEYS[1], '*', 'node', ARGV[1], 'address', ARGV[i + 1],
               'category', ARGV[i + 2], 'reason', ARGV[i + 3], 'campaign', ARGV[i + 4],
               'since', ARGV[i + 5])
  end
  n = n + 1
end
return n
)lua";

const std::string* field(const RedisReply& fields, std::string_view name) {
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].text == name) return &fields.elements[i + 1].text;
  }
  return nullptr;
}

}  // namespace

SuppressionSync::SuppressionSync(storage::Queue& queue, std::string prefix, std::string node)
    : queue_(queue),
      stream_(prefix + ":suppressions"),
      cursor_key_("cluster/" + prefix + "/suppressions_seen"),
      node_(std::move(node)) {}

Result<uint64_t> SuppressionSync::publish(RedisConnection& redis) {
  storage::SuppressionList list(queue_);
  auto pending = list.outbox(kBatch);
  if (!pending) return pending.error();
  if (pending->empty()) return uint64_t{0};
  static const RedisScript script(kPublish);
  std::vector<std::string> args{node_};
  std::vector<std::string> keys;
  for (const storage::OutboxEntry& o : *pending) {
    const storage::SuppressionEntry& e = o.entry;
    args.insert(args.end(), {o.removal ? "remove" : "add", e.address, e.category, e.reason,
                             e.campaign, std::to_string(e.since)});
    keys.push_back(o.key);
  }
  auto reply = script.run(redis, {stream_}, args);
  if (!reply) return reply.error();
  if (reply->type == RedisReply::Type::kError) {
    return make_error("Redis refused the suppressions: " + reply->text);
  }
  // Published: out of the outbox. (Lost between the two, they are published again: an entry
  // applied twice is the same entry.)
  if (auto removed = list.remove_from_outbox(keys); !removed) return removed.error();
  return static_cast<uint64_t>(keys.size());
}

Result<uint64_t> SuppressionSync::pull(
    RedisConnection& redis, const std::function<void(std::string_view address)>& applied) {
  if (cursor_.empty()) {
    const std::array<std::string, 1> key{cursor_key_};
    auto stored = queue_.get_records(key);
    if (!stored) return stored.error();
    cursor_ = stored->front().value_or("0-0");
  }
  auto reply =
      redis.command({"XREAD", "COUNT", std::to_string(kBatch), "STREAMS", stream_, cursor_});
  if (!reply) return reply.error();
  if (reply->type == RedisReply::Type::kNil) return uint64_t{0};  // nothing new
  if (reply->type == RedisReply::Type::kError) {
    return make_error("Redis refused to read the suppressions: " + reply->text);
  }
  // [[stream, [[id, [field, value, ...]], ...]]]
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != 1 ||
      reply->elements[0].elements.size() != 2) {
    return make_error("Redis answered the suppressions read with something else");
  }
  // In stream order, the last word on an address wins (added then removed: removed).
  std::map<std::string, std::optional<storage::SuppressionEntry>> changes;
  std::string last = cursor_;
  for (const RedisReply& item : reply->elements[0].elements[1].elements) {
    if (item.elements.size() != 2) continue;
    last = item.elements[0].text;
    const RedisReply& fields = item.elements[1];
    const std::string* node = field(fields, "node");
    const std::string* address = field(fields, "address");
    if (address == nullptr || address->empty() || (node != nullptr && *node == node_)) continue;
    const std::string* op = field(fields, "op");
    if (op != nullptr && *op == "remove") {
      changes[storage::suppression_address(*address)].reset();
      continue;
    }
    storage::SuppressionEntry e;
    e.address = *address;
    if (const std::string* c = field(fields, "category")) e.category = *c;
    if (const std::string* r = field(fields, "reason")) e.reason = *r;
    if (node != nullptr) e.reason += " (suppressed on node " + *node + ")";
    if (const std::string* c = field(fields, "campaign")) e.campaign = *c;
    if (const std::string* since = field(fields, "since")) {
      e.since = std::strtoll(since->c_str(), nullptr, 10);
    }
    changes[storage::suppression_address(*address)] = std::move(e);
  }
  std::vector<storage::SuppressionEntry> entries;
  std::vector<std::string> removed;
  for (auto& [address, change] : changes) {
    if (change) {
      entries.push_back(std::move(*change));
    } else {
      removed.push_back(address);
    }
  }
  if (last == cursor_) return uint64_t{0};
  const std::array<std::pair<std::string, std::string>, 1> seen{{{cursor_key_, last}}};
  if (auto applied_here =
          storage::SuppressionList(queue_).apply_from_cluster(entries, removed, seen);
      !applied_here) {
    return applied_here.error();
  }
  cursor_ = last;
  if (applied) {
    for (const storage::SuppressionEntry& e : entries) applied(e.address);
  }
  return static_cast<uint64_t>(entries.size() + removed.size());
}

}  // namespace ringmta::cluster
