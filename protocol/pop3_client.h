// Pop3LoginClient: the POP3 exchange of POP-before-SMTP (RFC 1939): greeting, USER, PASS, QUIT.
// Sans-I/O: fed the server's bytes, it returns bytes to send and a final result. Old smart hosts
// allow relaying for a while from an address that has just logged in to POP3.
// It may not read mail, or put the password into any result text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmta::protocol {

class Pop3LoginClient {
 public:
  Pop3LoginClient(std::string user, std::string password);

  void on_received(std::string_view data);
  void on_connection_lost(std::string reason);
  std::string take_output();

  bool done() const { return result_.has_value(); }
  // Set once done(): "" on success, else why the login failed (the server's -ERR line).
  const std::optional<std::string>& result() const { return result_; }

 private:
  enum class Step { kGreeting, kUser, kPass, kQuit, kDone };
  void on_line(std::string_view line);
  void finish(std::string outcome);

  std::string user_;
  std::string password_;
  Step step_ = Step::kGreeting;
  std::string in_;
  std::string out_;
  std::optional<std::string> result_;
};

}  // namespace ringmta::protocol
