// The sd_notify calls of readiness.h.
#include "service/readiness.h"

#include <systemd/sd-daemon.h>

namespace ringmta::service {

void notify_ready(const std::string& status) {
  sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}

void notify_status(const std::string& status) {
  sd_notify(0, ("STATUS=" + status).c_str());
}

void notify_stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping: closing sessions, keeping the rest queued");
}

}  // namespace ringmta::service
