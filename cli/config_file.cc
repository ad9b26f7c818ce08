// TOML settings → extra command-line arguments (see config_file.h).
#include "cli/config_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <set>

#include "cli/suggest.h"

namespace ringmta::cli {
namespace {

// [[dkim]] tables (or one [dkim] table): domain, selector, key, and optionally algorithm,
// canonicalization, headers and oversign (strings, or arrays of field names). Every table gives
// every flag, defaults spelled out, so that the repeated flags stay in step key by key.
Result<void> add_dkim_tables(const toml::node& node, const std::string& path,
                             std::vector<std::string>& extra) {
  std::vector<const toml::table*> tables;
  if (const toml::table* one = node.as_table()) tables.push_back(one);
  if (const toml::array* list = node.as_array()) {
    for (const auto& item : *list) {
      if (!item.as_table()) return make_error("--config " + path + ": 'dkim' must be tables");
      tables.push_back(item.as_table());
    }
  }
  if (tables.empty()) return make_error("--config " + path + ": 'dkim' must be [[dkim]] tables");
  const std::vector<std::pair<std::string, std::string>> keys{
      {"domain", ""},
      {"selector", ""},
      {"key", ""},
      {"algorithm", ""},
      {"canonicalization", "relaxed/relaxed"},
      {"headers", ""},
      {"oversign", "from"}};
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const std::string where = "--config " + path + ": [[dkim]] table " + std::to_string(i + 1);
    for (const auto& [name, node] : *tables[i]) {
      bool known = false;
      for (const auto& k : keys) known = known || k.first == name.str();
      if (!known) return make_error(where + ": unknown key '" + std::string(name.str()) + "'");
    }
    for (const auto& [name, fallback] : keys) {
      const toml::node* value = tables[i]->get(name);
      std::string text = fallback;
      if (value == nullptr && (name == "domain" || name == "selector" || name == "key")) {
        return make_error(where + ": '" + name + "' is missing");
      }
      if (value != nullptr) {
        if (auto s = value->value_exact<std::string>()) {
          text = *s;
        } else if (const toml::array* names = value->as_array()) {
          text.clear();
          for (const auto& item : *names) {
            auto field = item.value_exact<std::string>();
            if (!field) return make_error(where + ": '" + name + "' must list strings");
            text += (text.empty() ? "" : ":") + *field;
          }
        } else {
          return make_error(where + ": '" + name + "' must be a string");
        }
      }
      extra.push_back("--dkim-" + name);
      extra.push_back(text);
    }
  }
  return {};
}

// The long flags of the subcommand named `name` (without "--"); empty when there is none, or when
// it has subcommands of its own (whose flags the key could be).
std::vector<std::string> flags_of(const CLI::App& app, const std::string& name) {
  std::vector<std::string> flags;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() != name || !sub->get_subcommands({}).empty()) continue;
    for (const CLI::Option* option : sub->get_options()) {
      for (const std::string& flag : option->get_lnames()) flags.push_back(flag);
    }
  }
  return flags;
}

}  // namespace

Result<std::vector<std::string>> apply_config_file(const std::vector<std::string>& argv,
                                                   const CLI::App& app) {
  std::string path;
  std::set<std::string> given;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--config" && i + 1 < argv.size()) path = argv[i + 1];
    if (a.starts_with("--config=")) path = a.substr(9);
    if (a.starts_with("--")) given.insert(a.substr(2, a.find('=') - 2));
  }
  if (path.empty() || argv.size() < 2) return argv;
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return make_error("--config " + path + ": " + std::string(e.description()) + " (line " +
                      std::to_string(e.source().begin.line) + ")");
  }
  const std::vector<std::string> flags = flags_of(app, argv[1]);
  const auto is_flag = [&flags](const std::string& name) {
    return std::find(flags.begin(), flags.end(), name) != flags.end();
  };
  std::vector<std::string> extra;
  for (const auto& [key, node] : table) {
    std::string name(key.str());
    if (name != "dkim" && name != "route" && !flags.empty() && !is_flag(name)) {
      std::string dashed = name;
      std::replace(dashed.begin(), dashed.end(), '_', '-');
      if (!is_flag(dashed)) {
        const auto guess = nearest(dashed, flags);
        return make_error("--config " + path + ": unknown key '" + name + "' (no flag --" + dashed +
                          " of `ringmta " + argv[1] + "`" +
                          (guess ? "; did you mean '" + *guess + "'?" : "") + ")");
      }
      name = dashed;
    }
    if (name == "config" || given.count(name)) continue;
    if (name == "dkim") {
      if (given.count("dkim-domain")) continue;  // keys on the command line replace the file's
      if (auto ok = add_dkim_tables(node, path, extra); !ok) return ok.error();
      continue;
    }
    if (name == "route") {
      // `route = "direct"` is `--direct`; `route = "smarthost"` needs `smarthost = ...` too.
      auto how = node.value_exact<std::string>();
      if (!how || (*how != "direct" && *how != "smarthost")) {
        return make_error("--config " + path + ": 'route' must be \"direct\" or \"smarthost\"");
      }
      if (*how == "direct" && !given.count("direct")) extra.push_back("--direct");
      continue;
    }
    if (const toml::array* list = node.as_array()) {
      // A repeatable flag: dns-server = ["192.0.2.53", "192.0.2.54:5353"].
      for (const auto& item : *list) {
        auto text = item.value_exact<std::string>();
        if (!text) {
          return make_error("--config " + path + ": '" + name + "' must list strings");
        }
        extra.push_back("--" + name);
        extra.push_back(*text);
      }
      continue;
    }
    if (auto b = node.value_exact<bool>()) {
      if (*b) extra.push_back("--" + name);
    } else if (auto i = node.value_exact<int64_t>()) {
      extra.push_back("--" + name);
      extra.push_back(std::to_string(*i));
    } else if (auto s = node.value_exact<std::string>()) {
      extra.push_back("--" + name);
      extra.push_back(*s);
    } else {
      return make_error("--config " + path + ": '" + name +
                        "' must be a string, an integer or a boolean");
    }
  }
  std::vector<std::string> out(argv.begin(), argv.begin() + 2);  // program, subcommand
  out.insert(out.end(), extra.begin(), extra.end());
  out.insert(out.end(), argv.begin() + 2, argv.end());
  return out;
}

}  // namespace ringmta::cli
