// Type-aware equality of two logical values (kf::rdb::Value, e.g. decoded from DUMP
// payloads of two different engines), as verify defines it.
//
//   string   bytes equal
//   list     same elements in the same order
//   set      same members, any order
//   hash     same fields with the same values (and the same field TTLs), any order
//   zset     same members with exactly the same score (IEEE double ==, never text)
//   stream   same entries (ids and fields, in order), last id, max deleted id, entries
//            added; same groups by name with the same last delivered id, entries read,
//            consumer names and PEL (id, consumer, delivery count). Not compared: consumer
//            seen/active times and PEL delivery times (clocks of the server that served
//            the reads or replayed the delivery), and the recorded first id (derived from
//            the entries).
//   module   the module's serialized data, byte for byte
//
// Nothing here touches the network; the engine feeds it decoded values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rdb/value.h"

namespace kf::verify {

// nullopt when equal; otherwise a one-line printable description of the first difference
// ("member \"m4\": score 4.125 vs 4.1250000000000009"). The values are normalized in place
// (sets and hashes sorted) to compare them, hence the pointers.
std::optional<std::string> DescribeValueDifference(rdb::Value* source, rdb::Value* target);

// A score as a server prints it ("1e-07", "9.9999999999999995e-08", "inf", "-inf",
// "+inf"); nullopt for anything else, including NaN.
std::optional<double> ParseScore(std::string_view text);

// "%.17g" rendering used in difference details (exact: it round-trips).
std::string ScoreText(double score);

// Printable rendering of a value element for details, cut to a few dozen characters.
std::string Shown(std::string_view bytes);

}  // namespace kf::verify
