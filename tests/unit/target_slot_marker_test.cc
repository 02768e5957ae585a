// A cluster target's markers (target/applied_marker.h, "A cluster target"): the per-slot
// key lands in its slot, the value round-trips and refuses anything else, and the resume
// point drawn from a head marker and slot markers is the one the exactly-once argument
// needs (the highest floor; each slot's own offset for skipping replayed commands).
#include <gtest/gtest.h>

#include "net/cluster_slots.h"
#include "target/applied_marker.h"

namespace kf::target {
namespace {

const std::string kId(32, 'a');
const std::string kOtherId(32, 'b');
const std::string kReplid(40, 'c');

TEST(SlotMarkerTest, EveryKeyHashesToItsSlotAndIsRecognised) {
  for (int slot = 0; slot < net::kClusterSlotCount; ++slot) {
    const std::string key = SlotMarkerKey(slot);
    ASSERT_EQ(net::KeySlot(key), slot) << key;
    ASSERT_EQ(SlotOfMarkerKey(key), slot) << key;
    ASSERT_LE(key.size(), std::string(kAppliedMarkerKey).size() + 8) << key;
  }
  EXPECT_EQ(SlotOfMarkerKey(kAppliedMarkerKey), -1);
  EXPECT_EQ(SlotOfMarkerKey("keyferry:applied-offset{}"), -1);
  EXPECT_EQ(SlotOfMarkerKey("keyferry:applied-offset{x}"), -1);  // not the tag of its slot
  EXPECT_EQ(SlotOfMarkerKey("user:1"), -1);
}

TEST(SlotMarkerTest, RoundTripsAndRefusesAnythingElse) {
  SlotMarker m{42, kId, kReplid, 1000, 900, 0, 0};
  auto parsed = ParseSlotMarker(EncodeSlotMarker(m));
  ASSERT_TRUE(parsed);
  parsed->slot = 42;
  EXPECT_EQ(*parsed, m);
  for (std::string bad : {std::string(""), std::string("keyferry-slot-marker 1"),
                          EncodeSlotMarker(m) + " ", "x" + EncodeSlotMarker(m),
                          // floor after offset
                          EncodeSlotMarker(SlotMarker{1, kId, kReplid, 10, 11, 0, 0}),
                          // negative offset
                          EncodeSlotMarker(SlotMarker{1, kId, kReplid, -5, -6, 0, 0}),
                          EncodeSlotMarker(SlotMarker{1, "short", kReplid, 10, 9, 0, 0})}) {
    EXPECT_FALSE(ParseSlotMarker(bad)) << bad;
  }
}

TEST(SlotMarkerTest, ResumeIsTheHighestFloorAndKeepsEachSlotsOffset) {
  AppliedMarker head{kId, MarkerState::kStream, kReplid, 500, 0};
  // Batch (700, 800] reached slots 1 and 2 before the crash, not slot 3; slot 3 last
  // applied batch (600, 700].
  std::vector<SlotMarker> slots = {{1, kId, kReplid, 800, 700, 0, 0},
                                   {2, kId, kReplid, 800, 700, 0, 0},
                                   {3, kId, kReplid, 700, 600, 0, 0}};
  auto r = ResumeFromMarkers(head, slots);
  ASSERT_TRUE(r.foreign.empty()) << r.foreign;
  ASSERT_TRUE(r.marker);
  EXPECT_EQ(r.marker->state, MarkerState::kStream);
  EXPECT_EQ(r.marker->offset, 700);   // replay from 701: batch (700, 800] again
  EXPECT_EQ(r.slot_applied[1], 800);  // ... but slots 1 and 2 skip it
  EXPECT_EQ(r.slot_applied[3], 700);
  EXPECT_EQ(r.slot_applied[4], -1);

  // No slot written since the snapshot: the head's offset.
  auto only_head = ResumeFromMarkers(head, {});
  ASSERT_TRUE(only_head.marker);
  EXPECT_EQ(only_head.marker->offset, 500);

  // The head flushed away (FLUSHALL in the stream) but slot markers left: still a stream.
  auto no_head = ResumeFromMarkers(std::nullopt, slots);
  ASSERT_TRUE(no_head.marker);
  EXPECT_EQ(no_head.marker->id, kId);
  EXPECT_EQ(no_head.marker->offset, 700);

  // A snapshot in progress wins over any slot marker; nothing at all is nullopt.
  AppliedMarker snapshot{kId, MarkerState::kSnapshot, kReplid, 500, 0};
  EXPECT_EQ(ResumeFromMarkers(snapshot, slots).marker->state, MarkerState::kSnapshot);
  EXPECT_FALSE(ResumeFromMarkers(std::nullopt, {}).marker);

  // Another sync's slot marker is named, not merged.
  slots.push_back({9, kOtherId, kReplid, 900, 800, 0, 0});
  auto foreign = ResumeFromMarkers(head, slots);
  EXPECT_NE(foreign.foreign.find("slot 9"), std::string::npos) << foreign.foreign;
}

}  // namespace
}  // namespace kf::target
