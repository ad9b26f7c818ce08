// TOML settings → extra command-line arguments (see config_file.h).
#include "cli/config_file.h"

#include <toml++/toml.h>

#include <set>

namespace ringmta::cli {

Result<std::vector<std::string>> apply_config_file(const std::vector<std::string>& argv) {
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
  std::vector<std::string> extra;
  for (const auto& [key, node] : table) {
    std::string name(key.str());
    if (name == "config" || given.count(name)) continue;
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
