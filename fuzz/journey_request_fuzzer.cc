// libFuzzer target: every journey-service request through its validation
// and JourneyManager over an in-memory SQLite store.
#include "fuzz/fuzz_util.h"
#include "journey-service/journey_manager.h"
#include "journey-service/sql_journey_repository.h"
#include "shared/db/sql.h"

namespace cx::journey {
namespace {

JourneyManager& TheManager() {
  static JourneyManager* m = [] {
    auto pool = shared::db::OpenDatabase("sqlite::memory:", "", 1);
    if (!pool.ok()) __builtin_trap();
    auto repository = OpenJourneyRepository(*pool);
    if (!repository.ok()) __builtin_trap();
    JourneyManagerOptions options;
    options.page_token_key = "fuzz";
    return new JourneyManager(*repository, std::move(options));
  }();
  return *m;
}

}  // namespace
}  // namespace cx::journey

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cx::journey;
  namespace f = cx::fuzz;
  f::Input in;
  if (!f::Split(data, size, 16, &in)) return 0;
  JourneyManager& m = TheManager();
  const auto& p = in.who;
  switch (in.method) {
    case 0:
      f::Serve<v1::RecordEventRequest>(in.wire, [&](const auto& r) {
        return f::Wait<v1::RecordEventResponse>([&](auto done) { m.RecordEvent(p, r, std::move(done)); });
      });
      break;
    case 1:
      f::Serve<v1::BatchRecordEventsRequest>(in.wire, [&](const auto& r) {
        return f::Wait<v1::BatchRecordEventsResponse>([&](auto done) { m.BatchRecordEvents(p, r, std::move(done)); });
      });
      break;
    case 2:
      f::Serve<v1::UpsertCustomerRequest>(in.wire, [&](const auto& r) { return m.UpsertCustomer(p, r); });
      break;
    case 3: f::Serve<v1::GetCustomerRequest>(in.wire, [&](const auto& r) { return m.GetCustomer(p, r); }); break;
    case 4:
      f::Serve<v1::LookupCustomerRequest>(in.wire, [&](const auto& r) { return m.LookupCustomer(p, r); });
      break;
    case 5:
      f::Serve<v1::ListCustomersRequest>(in.wire, [&](const auto& r) { return m.ListCustomers(p, r); });
      break;
    case 6:
      f::Serve<v1::MergeCustomersRequest>(in.wire, [&](const auto& r) { return m.MergeCustomers(p, r); });
      break;
    case 7:
      f::Serve<v1::UnmergeCustomersRequest>(in.wire, [&](const auto& r) { return m.UnmergeCustomers(p, r); });
      break;
    case 8:
      f::Serve<v1::SetStageMappingRequest>(in.wire, [&](const auto& r) { return m.SetStageMapping(p, r); });
      break;
    case 9:
      f::Serve<v1::GetStageMappingRequest>(in.wire, [&](const auto& r) { return m.GetStageMapping(p, r); });
      break;
    case 10: f::Serve<v1::GetJourneyRequest>(in.wire, [&](const auto& r) { return m.GetJourney(p, r); }); break;
    case 11: f::Serve<v1::ListChangesRequest>(in.wire, [&](const auto& r) { return m.ListChanges(p, r); }); break;
    case 12: f::Serve<v1::WatchChangesRequest>(in.wire, [&](const auto& r) { return m.WatchScope(p, r); }); break;
    case 13: f::ImportOne<v1::ImportEventsRequest>(in.wire, [&] { return m.StartImport(p); }); break;
    case 14: f::Serve<v1::EraseCustomerRequest>(in.wire, [&](const auto& r) { return m.EraseCustomer(p, r); }); break;
    case 15:
      f::Serve<v1::ExportCustomerDataRequest>(in.wire, [&](const auto& r) { return m.ExportCustomerData(p, r); });
      break;
  }
  return 0;
}
