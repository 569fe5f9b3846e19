#include "journey-service/journey_server.h"

#include "journey-service/sql_journey_repository.h"

namespace cx::journey {

std::vector<shared::OptionSpec> JourneyServiceOptionSpecs() {
  return shared::CommonOptions("0.0.0.0:50052", "sqlite:///data/journey.db", "0.0.0.0:9465");
}

absl::Status JourneyServer::Migrate(const shared::ServiceOptions& options) {
  return shared::MigrateOnly(options, OpenJourneyRepository);
}

absl::StatusOr<std::unique_ptr<JourneyServer>> JourneyServer::Start(shared::ServiceOptions options) {
  std::unique_ptr<JourneyServer> s(new JourneyServer);
  if (auto st = s->host_.Open("journey", options); !st.ok()) return st;
  auto repository = OpenJourneyRepository(s->host_.pool());
  if (!repository.ok()) return repository.status();
  s->repository_ = *repository;
  auto repo = s->repository_;
  s->host_.MakeHub([repo](const std::optional<std::string>& tenant, int64_t after, int limit) {
    return repo->ListChanges(tenant, after, limit);
  });

  JourneyManagerOptions manager_options;
  manager_options.commit = s->host_.CommitOptions();
  manager_options.page_token_key = options.page_token_key;
  manager_options.on_commit = s->host_.OnCommit();
  manager_options.observe_batch = s->host_.ObserveBatch();
  s->manager_ = std::make_shared<JourneyManager>(s->repository_, std::move(manager_options));
  s->service_ = std::make_unique<JourneyGrpcService>(s->manager_, s->host_.hub(), s->host_.env());
  if (auto st = s->host_.Serve(s->service_.get(), v1::JourneyService::service_full_name(), [repo] { return repo->Ping(); });
      !st.ok()) {
    return st;
  }
  return s;
}

void JourneyServer::Shutdown() {
  host_.Drain();
  if (manager_) manager_->Stop();
  host_.StopHub();
}

JourneyServer::~JourneyServer() { Shutdown(); }

}  // namespace cx::journey
