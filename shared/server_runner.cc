#include "shared/server_runner.h"

#include <algorithm>
#include <csignal>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "shared/log.h"
#include "shared/reload.h"

namespace cx::shared {

absl::StatusOr<ServerOptions> ServerOptions::FromConfig(const Config& config) {
  ServerOptions options;
  options.listen = config.Get("listen");
  auto reflection = config.GetBool("reflection");
  if (!reflection.ok()) return reflection.status();
  options.reflection = *reflection;
  auto grace = config.GetInt("drain-grace-ms");
  if (!grace.ok()) return grace.status();
  options.drain_grace = absl::Milliseconds(*grace);
  auto timeout = config.GetInt("shutdown-timeout-ms");
  if (!timeout.ok()) return timeout.status();
  options.shutdown_timeout = absl::Milliseconds(*timeout);
  auto max_bytes = config.GetInt("max-message-bytes");
  if (!max_bytes.ok()) return max_bytes.status();
  options.max_message_bytes = static_cast<int>(*max_bytes);
  for (auto [flag, field] : {std::pair{"max-connection-age-ms", &options.max_connection_age},
                             std::pair{"max-connection-age-grace-ms", &options.max_connection_age_grace},
                             std::pair{"max-connection-idle-ms", &options.max_connection_idle}}) {
    auto ms = config.GetInt(flag);
    if (!ms.ok()) return ms.status();
    if (*ms < 0) return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be 0 or more"));
    *field = absl::Milliseconds(*ms);
  }
  options.tls.cert = config.Get("tls-cert");
  options.tls.key = config.Get("tls-key");
  options.tls.client_ca = config.Get("tls-client-ca");
  options.health_listen = config.Get("health-listen");
  return options;
}

ServerRunner::ServerRunner(ServerOptions options) : options_(std::move(options)) {}

ServerRunner::~ServerRunner() { Drain(); }

void ServerRunner::AddService(grpc::Service* service, const std::string& full_name) {
  services_.emplace_back(service, full_name);
}

void ServerRunner::SetHealthProbe(std::function<absl::Status()> probe) { probe_ = std::move(probe); }

void ServerRunner::OnDrain(std::function<void()> hook) { drain_hooks_.push_back(std::move(hook)); }

void InitProcessDefaults() {
  // Debian's Abseil is built with mutex deadlock detection on: it records a
  // lock graph on every absl::Mutex operation gRPC makes. Production servers
  // do not want that cost.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

namespace {

// gRPC registers the reflection plugin for every server of the process once
// the reflection library is loaded; this option takes it out of one builder.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                                    return dynamic_cast<grpc::reflection::ProtoServerReflectionPlugin*>(p.get()) !=
                                           nullptr;
                                  }),
                   plugins->end());
  }
};

// Answers every method but the health service with UNIMPLEMENTED (a server
// needs one service of its own to start).
class OnlyHealth final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Refuse final : public grpc::ServerGenericBidiReactor {
     public:
      Refuse() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this port serves grpc.health.v1 only")); }
      void OnDone() override { delete this; }
    };
    return new Refuse;
  }
};

}  // namespace

absl::Status ServerRunner::Start() {
  InitProcessDefaults();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto credentials = MakeServerCredentials(options_.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  if (!options_.reflection) builder.SetOption(std::make_unique<WithoutReflection>());
  builder.AddListeningPort(options_.listen, *credentials, &port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  auto set_ms = [&builder](const char* arg, absl::Duration d) {
    if (d > absl::ZeroDuration()) builder.AddChannelArgument(arg, static_cast<int>(absl::ToInt64Milliseconds(d)));
  };
  set_ms(GRPC_ARG_MAX_CONNECTION_AGE_MS, options_.max_connection_age);
  set_ms(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, options_.max_connection_age_grace);
  set_ms(GRPC_ARG_MAX_CONNECTION_IDLE_MS, options_.max_connection_idle);
  for (auto& [service, name] : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
  }
  if (!options_.health_listen.empty()) {
    // Nothing registered but the default health service.
    grpc::ServerBuilder health_builder;
    health_builder.SetOption(std::make_unique<WithoutReflection>());
    health_builder.AddListeningPort(options_.health_listen, grpc::InsecureServerCredentials(), &health_port_);
    health_only_ = std::make_unique<OnlyHealth>();
    health_builder.RegisterCallbackGenericService(health_only_.get());
    health_server_ = health_builder.BuildAndStart();
    if (health_server_ == nullptr || health_port_ == 0) {
      server_->Shutdown();
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.health_listen));
    }
  }
  bool healthy = !probe_ || probe_().ok();
  SetServing(healthy);
  probe_thread_ = std::thread([this] { ProbeLoop(); });
  LogInfo("listening", {{"address", options_.listen}, {"port", absl::StrCat(port_)},
                        {"reflection", options_.reflection ? "on" : "off"},
                        {"tls", options_.tls.cert.empty() ? "off" : options_.tls.client_ca.empty() ? "on" : "mtls"},
                        {"health_port", absl::StrCat(health_port_)}});
  return absl::OkStatus();
}

void ServerRunner::SetServing(bool serving) {
  if (draining_) serving = false;
  bool previous = serving_.exchange(serving);
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    auto* health = server->GetHealthCheckService();
    health->SetServingStatus(serving);  // every name, the liveness one too
    for (auto& [service, name] : services_) health->SetServingStatus(name, serving);
    health->SetServingStatus(kLivenessService, true);
  }
  if (previous != serving) LogInfo(serving ? "health SERVING" : "health NOT_SERVING");
}

void ServerRunner::ProbeLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_probe_) {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.health_probe_interval));
    if (stop_probe_ || draining_) break;
    lock.unlock();
    absl::Status status = probe_ ? probe_() : absl::OkStatus();
    if (!status.ok() && serving_) LogWarning("health probe failed", {{"error", std::string(status.message())}});
    SetServing(status.ok());
    lock.lock();
  }
}

void ServerRunner::Drain() {
  if (server_ == nullptr) return;
  std::call_once(drained_, [this] {
    LogInfo("draining", {{"grace_ms", absl::StrCat(absl::ToInt64Milliseconds(options_.drain_grace))}});
    draining_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_probe_ = true;
    }
    cv_.notify_all();
    if (probe_thread_.joinable()) probe_thread_.join();
    SetServing(false);
    absl::SleepFor(options_.drain_grace);
    for (auto& hook : drain_hooks_) hook();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.shutdown_timeout));
    server_->Wait();
    if (health_server_ != nullptr) {
      health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
      health_server_->Wait();
    }
    LogInfo("stopped");
  });
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  while (true) {
    int signal = 0;
    sigwait(&set, &signal);
    if (signal != SIGHUP) return signal;
    RunReloadHooks();
  }
}

}  // namespace cx::shared
