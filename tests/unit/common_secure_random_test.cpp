// common/secure_random: bearer tokens and passwords from the kernel's CSPRNG. What callers rely
// on: the length and alphabet promised, no repeats, and for passwords every character of the
// alphabet equally likely (a byte-modulo draw over 57 symbols would favour the first 28).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/errors.hpp"
#include "common/secure_random.hpp"

namespace ferry {
namespace {

TEST(SecureRandom, HexHasTwoLowerCaseDigitsPerByteAndNeverRepeats) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto h = SecureRandomHex(32);
    ASSERT_EQ(h.size(), 64u);
    EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos) << h;
    seen.insert(h);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(SecureRandom, StringsUseOnlyTheAlphabetAndEveryCharacterEqually) {
  const std::string alphabet = "23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
  std::map<char, int> counts;
  constexpr int kDraws = 2000;
  for (int i = 0; i < kDraws; ++i) {
    const auto s = SecureRandomString(57, alphabet);
    ASSERT_EQ(s.size(), 57u);
    for (char c : s) ++counts[c];
  }
  ASSERT_EQ(counts.size(), alphabet.size()) << "some character never drawn";
  // kDraws per character expected (57 * 2000 draws over 57 symbols); the sd is about 44.
  // A modulo draw would give the first 28 symbols 5/4.5 of the rest: ~2100 against ~1890.
  int first = 0, rest = 0;
  for (size_t i = 0; i < alphabet.size(); ++i) (i < 28 ? first : rest) += counts[alphabet[i]];
  const double ratio = (first / 28.0) / (rest / 29.0);
  EXPECT_LT(ratio, 1.05) << "the first characters are favoured";
  EXPECT_GT(ratio, 0.95);
}

TEST(SecureRandom, AnEmptyOrOversizedAlphabetIsRefused) {
  EXPECT_THROW(SecureRandomString(4, ""), Error);
  EXPECT_THROW(SecureRandomString(4, std::string(257, 'a')), Error);
  EXPECT_EQ(SecureRandomString(5, "x"), "xxxxx");
}

}  // namespace
}  // namespace ferry
