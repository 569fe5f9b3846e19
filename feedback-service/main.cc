// feedback-service: captures what customers say. See --help for options.
#include <iostream>

#include "feedback-service/feedback_server.h"
#include "shared/log.h"
#include "shared/server_runner.h"

int main(int argc, char** argv) {
  cx::shared::BlockTerminationSignals();
  auto specs = cx::feedback::FeedbackServiceOptionSpecs();
  auto config = cx::shared::Config::ParseOrExit("feedback-service", specs, argc, argv);
  cx::shared::LogLevel level = cx::shared::LogLevel::kInfo;
  cx::shared::ParseLogLevel(config.Get("log-level"), &level);
  cx::shared::InitLogging("feedback-service", level);

  auto options = cx::feedback::FeedbackServerOptions::FromConfig(config);
  if (!options.ok()) {
    cx::shared::LogError("bad configuration", {{"error", std::string(options.status().message())}});
    return 2;
  }
  auto server = cx::feedback::FeedbackServer::Start(*std::move(options));
  if (!server.ok()) {
    cx::shared::LogError("cannot start", {{"error", std::string(server.status().message())}});
    return 1;
  }
  int signal = cx::shared::WaitForTerminationSignal();
  cx::shared::LogInfo("termination signal", {{"signal", std::to_string(signal)}});
  (*server)->Shutdown();
  return 0;
}
