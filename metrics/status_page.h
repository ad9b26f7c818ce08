// The status page served at `/`: one self-contained HTML document (inline CSS and JavaScript, no
// external scripts, fonts or images, so it works offline) that polls /status every second and
// draws the delivery rate on a <canvas>, progress per campaign, the top domains with their state
// and the throttle changes with their reasons.
// It may not: embed data (everything comes from /status), or load anything from elsewhere.
#pragma once

#include <string_view>

namespace ringmta::metrics {

std::string_view status_page_html();

}  // namespace ringmta::metrics
