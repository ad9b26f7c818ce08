// Pop3LoginClient implementation: one line per reply, "+OK" or "-ERR".
#include "protocol/pop3_client.h"

namespace ringmta::protocol {

Pop3LoginClient::Pop3LoginClient(std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {}

void Pop3LoginClient::on_received(std::string_view data) {
  if (done()) return;
  in_.append(data);
  if (in_.size() > 4096 && in_.find('\n') == std::string::npos) {
    return finish("POP3 server sent a line longer than 4096 bytes");
  }
  std::size_t nl;
  while (!done() && (nl = in_.find('\n')) != std::string::npos) {
    std::string line = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    on_line(line);
  }
}

void Pop3LoginClient::on_line(std::string_view line) {
  bool ok = line.starts_with("+OK");
  if (!ok && !line.starts_with("-ERR")) {
    return finish("POP3 server sent an unexpected line: " + std::string(line.substr(0, 200)));
  }
  switch (step_) {
    case Step::kGreeting:
      if (!ok) return finish("POP3 greeting refused: " + std::string(line));
      out_ += "USER " + user_ + "\r\n";
      step_ = Step::kUser;
      break;
    case Step::kUser:
      if (!ok) return finish("POP3 USER refused: " + std::string(line));
      out_ += "PASS " + password_ + "\r\n";
      step_ = Step::kPass;
      break;
    case Step::kPass:
      if (!ok) return finish("POP3 login failed: " + std::string(line));
      out_ += "QUIT\r\n";
      step_ = Step::kQuit;
      break;
    case Step::kQuit:
      finish("");
      break;
    case Step::kDone:
      break;
  }
}

void Pop3LoginClient::on_connection_lost(std::string reason) {
  if (done()) return;
  // After a successful PASS the login has counted even if QUIT is not answered.
  if (step_ == Step::kQuit) return finish("");
  finish("POP3 connection lost: " + reason);
}

std::string Pop3LoginClient::take_output() {
  std::string out;
  out.swap(out_);
  return out;
}

void Pop3LoginClient::finish(std::string outcome) {
  step_ = Step::kDone;
  result_ = std::move(outcome);
}

}  // namespace ringmta::protocol
