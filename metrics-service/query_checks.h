// Request checks and time arithmetic shared by the rollup queries and the
// journey queries of metrics-service.
#ifndef CX_METRICS_QUERY_CHECKS_H_
#define CX_METRICS_QUERY_CHECKS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cx/metrics/v1/metrics_service.pb.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::metrics {

using Violations = std::vector<shared::FieldViolation>;

using shared::IsLabel;

absl::Status Invalid(const Violations& v);

// The start of the interval (hour, day, week from Monday, month) holding t
// in tz when `floor`, else the start of the next interval after t's.
absl::Time IntervalBoundary(absl::Time t, v1::Interval interval, absl::TimeZone tz, bool floor);

// Loads an IANA zone ("" is UTC); a violation of `field` when unknown.
absl::TimeZone CheckTimeZone(const std::string& name, const std::string& field, Violations* v);

}  // namespace cx::metrics

#endif  // CX_METRICS_QUERY_CHECKS_H_
