// RFC 3339 times for messages and --retain-until (fls/time_text.h).
#include "fls/time_text.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace fls {

std::string FormatTimeNs(std::int64_t ns) {
  // Floor division, so that times before 1970 print the second they lie in.
  std::int64_t secs = ns / 1000000000;
  if (ns % 1000000000 < 0) --secs;
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  char buf[40];
  if (::gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%FT%TZ", &tm) == 0)
    return std::to_string(ns) + " ns";
  return buf;
}

namespace {

bool Digits(const std::string& s, std::size_t at, std::size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

Status ParseTimeText(const std::string& text, std::int64_t* ns) {
  const Status bad = Status::InvalidArgument(
      "'" + text +
      "' is not a date: use YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM[:SS] followed by Z or "
      "+HH:MM/-HH:MM");
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!Digits(text, 0, 4, &y) || text.size() < 10 || text[4] != '-' || !Digits(text, 5, 2, &mo) ||
      text[7] != '-' || !Digits(text, 8, 2, &d))
    return bad;
  if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return bad;
  std::size_t at = 10;
  std::int64_t offset_s = 0;
  if (at < text.size()) {
    if ((text[at] != 'T' && text[at] != ' ') || !Digits(text, at + 1, 2, &h) ||
        text.size() < at + 6 || text[at + 3] != ':' || !Digits(text, at + 4, 2, &mi))
      return bad;
    at += 6;
    if (at < text.size() && text[at] == ':') {
      if (!Digits(text, at + 1, 2, &sec)) return bad;
      at += 3;
    }
    if (h > 23 || mi > 59 || sec > 59) return bad;
    if (at == text.size()) return bad;  // a time needs its zone: no guessing local time
    if (text[at] == 'Z' && at + 1 == text.size()) {
      at += 1;
    } else if ((text[at] == '+' || text[at] == '-') && text.size() == at + 6 &&
               text[at + 3] == ':') {
      int oh = 0, om = 0;
      if (!Digits(text, at + 1, 2, &oh) || !Digits(text, at + 4, 2, &om) || oh > 23 || om > 59)
        return bad;
      offset_s = (oh * 3600 + om * 60) * (text[at] == '+' ? 1 : -1);
      at = text.size();
    } else {
      return bad;
    }
  }
  const std::int64_t secs =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + sec - offset_s;
  *ns = secs * 1000000000;
  return Status::Ok();
}

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace fls
