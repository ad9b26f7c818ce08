// Readiness: what `ringmta serve` tells its service manager (systemd's Type=notify protocol, by
// libsystemd's sd_notify): READY=1 once its listeners accept, a STATUS= line with the delivery's
// counts, STOPPING=1 when a stop was asked for. Without $NOTIFY_SOCKET (not started by systemd)
// every call does nothing. It may not block: sd_notify sends one datagram.
#pragma once

#include <string>

namespace ringmta::service {

void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_stopping();

}  // namespace ringmta::service
