// suggest: "did you mean" for a mistyped command or flag — the closest of the candidates by edit
// distance, when it is close enough to be what was meant. It may not print.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::cli {

// The candidate nearest to word (Damerau-Levenshtein: a swap of two neighbours is one edit), if
// at most 2 edits away (1 for words of 4 characters or fewer); nullopt otherwise.
std::optional<std::string> nearest(std::string_view word,
                                   const std::vector<std::string>& candidates);

}  // namespace ringmta::cli
