// parse_toml_document: a TOML text parsed with toml++, its syntax error turned into an Error that
// names the source and the line, as every configuration file's loader reports it. Start-up code
// only (toml++ throws; this is where the exception stops). Include it only from parts that link
// PkgConfig::TOMLPP. It may not read files or check a document's keys.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "util/result.h"

namespace ringmta {

inline Result<toml::table> parse_toml_document(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return make_error(source + ": " + std::string(e.description()) + " (line " +
                      std::to_string(e.source().begin.line) + ")");
  }
}

}  // namespace ringmta
