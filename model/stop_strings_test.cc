#include "model/stop_strings.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ccs::model {
namespace {

// Streams `pieces` through a filter; returns what a client would see and
// whether the stream stopped.
std::pair<std::string, bool> Stream(const std::vector<std::string>& stops,
                                    const std::vector<std::string>& pieces) {
  StopStringFilter filter(stops);
  std::string seen;
  for (const std::string& piece : pieces) {
    seen += filter.Push(piece);
    if (filter.stopped()) return {seen, true};
  }
  return {seen + filter.Flush(), false};
}

TEST(StopStringFilterTest, NoStopsPassesEverythingThrough) {
  StopStringFilter filter({});
  EXPECT_EQ(filter.Push("abc"), "abc");
  EXPECT_EQ(filter.Flush(), "");
  EXPECT_FALSE(filter.stopped());
}

TEST(StopStringFilterTest, StopsBeforeTheStopStringWhereverItIsCut) {
  const std::string text = "The answer is 42.\n\nQ: next";
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) {
      auto [seen, stopped] =
          Stream({"\n\nQ:"}, {text.substr(0, a), text.substr(a, b - a), text.substr(b)});
      EXPECT_TRUE(stopped) << a << "," << b;
      EXPECT_EQ(seen, "The answer is 42.") << a << "," << b;
    }
  }
}

TEST(StopStringFilterTest, HoldsBackOnlyWhatCouldStartAStop) {
  StopStringFilter filter({"END"});
  EXPECT_EQ(filter.Push("hello E"), "hello ");
  EXPECT_EQ(filter.Push("N"), "");
  EXPECT_EQ(filter.Push("ding"), "ENding");  // "ENd" is not "END"
  EXPECT_EQ(filter.Flush(), "");
  EXPECT_FALSE(filter.stopped());
}

TEST(StopStringFilterTest, PartialStopAtTheEndIsFlushed) {
  auto [seen, stopped] = Stream({"</a>"}, {"x </", "a"});
  EXPECT_FALSE(stopped);
  EXPECT_EQ(seen, "x </a");
}

TEST(StopStringFilterTest, EarliestOfSeveralStopsWins) {
  auto [seen, stopped] = Stream({"ZZ", "b"}, {"aaZZb"});
  EXPECT_TRUE(stopped);
  EXPECT_EQ(seen, "aa");
  std::tie(seen, stopped) = Stream({"bc", "abcd"}, {"xab", "cd"});
  EXPECT_TRUE(stopped);
  EXPECT_EQ(seen, "x");
}

TEST(StopStringFilterTest, NothingAfterStopping) {
  StopStringFilter filter({"."});
  EXPECT_EQ(filter.Push("a.b"), "a");
  EXPECT_TRUE(filter.stopped());
  EXPECT_EQ(filter.Push("more"), "");
  EXPECT_EQ(filter.Flush(), "");
}

TEST(StopStringFilterTest, MultiByteStops) {
  auto [seen, stopped] = Stream({"\xE3\x80\x82"}, {"\xE4\xB8\xAD\xE3", "\x80\x82rest"});
  EXPECT_TRUE(stopped);
  EXPECT_EQ(seen, "\xE4\xB8\xAD");
}

}  // namespace
}  // namespace ccs::model
