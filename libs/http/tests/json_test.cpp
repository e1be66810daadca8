#include <cmath>
// Request body parsing (content type, malformed JSON, nesting limit), the `limit` query parameter
// and the JsonWriter used for responses.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <string>

#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "libs/http/message.h"

namespace oms::http {
namespace {

Request body_request(std::string body, std::optional<std::string> content_type) {
  Request r;
  r.method = "POST";
  r.path = "/api/orders";
  r.body = std::move(body);
  if (content_type) r.set_header("Content-Type", *content_type);
  return r;
}

// ---- parse_body ----

TEST(ParseBody, MissingContentTypeIs415) {
  auto r = parse_body(body_request(R"({"a":1})", std::nullopt));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kUnsupportedMedia);
  EXPECT_EQ(status_of(r.error().code), 415);
}

TEST(ParseBody, WrongContentTypeIs415) {
  for (const char* ct : {"text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                         "application/json-patch+json", ""}) {
    auto r = parse_body(body_request(R"({"a":1})", std::string(ct)));
    ASSERT_FALSE(r.has_value()) << ct;
    EXPECT_EQ(r.error().code, Errc::kUnsupportedMedia) << ct;
  }
}

TEST(ParseBody, JsonWithCharsetAccepted) {
  auto r = parse_body(body_request(R"({"a":1})", "application/json; charset=utf-8"));
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->as_object().at("a").as_int64(), 1);
}

TEST(ParseBody, ContentTypeCaseInsensitive) {
  auto r = parse_body(body_request(R"([1,2])", "Application/JSON"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->as_array().size(), 2u);
}

TEST(ParseBody, MalformedIsInvalid) {
  for (const char* b : {"{", "{\"a\":}", "[1,2,", "nope", "{\"a\":1}}", "{'a':1}"}) {
    auto r = parse_body(body_request(b, "application/json"));
    ASSERT_FALSE(r.has_value()) << b;
    EXPECT_EQ(r.error().code, Errc::kInvalid) << b;
  }
}

TEST(ParseBody, EmptyBodyRequiredUnlessOptional) {
  auto r = parse_body(body_request("  \n", "application/json"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kInvalid);
  auto opt = parse_body(body_request("", std::nullopt), /*optional=*/true);
  ASSERT_TRUE(opt.has_value());
  EXPECT_TRUE(opt->is_object());
  EXPECT_TRUE(opt->as_object().empty());
}

TEST(ParseBody, DeepNestingRejectedNotCrash) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = parse_body(body_request(deep, "application/json"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kInvalid);

  std::string very_deep(100000, '[');
  very_deep += std::string(100000, ']');
  auto r2 = parse_body(body_request(very_deep, "application/json"));
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().code, Errc::kInvalid);
}

TEST(ParseBody, ModerateNestingAccepted) {
  std::string ok(10, '[');
  ok += std::string(10, ']');
  auto r = parse_body(body_request(ok, "application/json"));
  EXPECT_TRUE(r.has_value());
}

TEST(ParseBody, ADuplicateKeyIsRefusedByName) {
  // Top level, and inside an array's object: the body could mean either value, so it means neither.
  for (const char* body : {R"({"customerEmail":"a@x.io","customerEmail":"b@x.io"})",
                           R"({"items":[{"productId":"p","quantity":1,"quantity":9}]})"}) {
    auto r = parse_body(body_request(body, "application/json"));
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(status_of(r.error().code), 400);
    EXPECT_NE(r.error().detail.find("duplicate key"), std::string::npos) << r.error().detail;
  }
  auto dup = parse_body(body_request(R"({"quantity":1,"quantity":2})", "application/json"));
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().detail.find("\"quantity\""), std::string::npos) << dup.error().detail;
}

TEST(ParseBody, TheSameKeyInDifferentObjectsIsFine) {
  auto r = parse_body(body_request(R"({"a":{"a":1},"items":[{"q":1},{"q":2}]})", "application/json"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->as_object().at("items").as_array().size(), 2u);
}

// ---- parse_limit ----

TEST(ParseBody, NumbersWithMoreThanTwoDecimalsBecomeNaN) {
  // Judged on the text, not on the double: 50.000000000001 and 50 are the same double.
  auto v = parse_body(body_request(
      R"({"a": 50.5, "b": 50.50, "c": 50.500, "d": 5.05e1, "e": 50.001, "f": 50.000000000001,
          "g": 1e-3, "h": 0.01, "i": 7, "j": -2.25})",
      "application/json"));
  ASSERT_TRUE(v.has_value());
  const auto& o = v->as_object();
  EXPECT_DOUBLE_EQ(o.at("a").as_double(), 50.5);
  EXPECT_DOUBLE_EQ(o.at("b").as_double(), 50.5);
  EXPECT_DOUBLE_EQ(o.at("c").as_double(), 50.5);
  EXPECT_DOUBLE_EQ(o.at("d").as_double(), 50.5);
  EXPECT_TRUE(std::isnan(o.at("e").as_double()));
  EXPECT_TRUE(std::isnan(o.at("f").as_double()));
  EXPECT_TRUE(std::isnan(o.at("g").as_double()));
  EXPECT_DOUBLE_EQ(o.at("h").as_double(), 0.01);
  EXPECT_EQ(o.at("i").as_int64(), 7);
  EXPECT_DOUBLE_EQ(o.at("j").as_double(), -2.25);
}

Request with_query(std::string q) {
  Request r;
  r.method = "GET";
  r.path = "/api/orders";
  r.query = parse_query(q);
  return r;
}

TEST(ParseLimit, DefaultIs100) {
  auto r = parse_limit(with_query(""));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 100);
}

TEST(ParseLimit, ValueTakenAndClampedTo1000) {
  EXPECT_EQ(parse_limit(with_query("limit=1")).value_or(-1), 1);
  EXPECT_EQ(parse_limit(with_query("limit=250")).value_or(-1), 250);
  EXPECT_EQ(parse_limit(with_query("limit=1000")).value_or(-1), 1000);
  EXPECT_EQ(parse_limit(with_query("limit=1001")).value_or(-1), 1000);
  EXPECT_EQ(parse_limit(with_query("limit=99999999999999999999999")).value_or(-1), 1000);
}

TEST(ParseLimit, NonPositiveOrJunkIsInvalid) {
  for (const char* q : {"limit=0", "limit=-1", "limit=abc", "limit=", "limit=10abc", "limit=1.5",
                        "limit=-99999999999999999999999", "limit=+5", "limit=%205"}) {
    auto r = parse_limit(with_query(q));
    ASSERT_FALSE(r.has_value()) << q;
    EXPECT_EQ(r.error().code, Errc::kInvalid) << q;
  }
}

// ---- JsonWriter ----

TEST(JsonWriter, MoneyHasTwoDecimals) {
  JsonWriter w;
  w.begin_object().field("total", Money{15050}).field("fee", Money{5}).field("zero", Money{0});
  w.end_object();
  EXPECT_EQ(w.view(), R"({"total":150.50,"fee":0.05,"zero":0.00})");
  // And it is valid JSON with the right numeric value.
  auto v = boost::json::parse(w.view()).as_object();
  EXPECT_DOUBLE_EQ(v.at("total").as_double(), 150.5);
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlChars) {
  JsonWriter w;
  w.begin_object().field("s", std::string("a\"b\\c\nd\re\tf\x01g\x1f")).end_object();
  EXPECT_EQ(w.view(), R"({"s":"a\"b\\c\nd\re\tf\u0001g\u001f"})");
  auto v = boost::json::parse(w.view());
  EXPECT_EQ(v.as_object().at("s").as_string(), "a\"b\\c\nd\re\tf\x01g\x1f");
}

TEST(JsonWriter, EscapesKeys) {
  JsonWriter w;
  w.begin_object().field("k\"ey", 1).end_object();
  EXPECT_EQ(w.view(), R"({"k\"ey":1})");
}

TEST(JsonWriter, Utf8PassesThrough) {
  JsonWriter w;
  w.str("caf\xc3\xa9");
  EXPECT_EQ(w.view(), "\"caf\xc3\xa9\"");
}

TEST(JsonWriter, NestedArraysAndObjectsHaveCommasInTheRightPlaces) {
  JsonWriter w;
  w.begin_object();
  w.field("id", std::string("o1"));
  w.key("items").begin_array();
  w.begin_object().field("productId", std::string("A")).field("quantity", 2).end_object();
  w.begin_object().field("productId", std::string("B")).field("quantity", 3).end_object();
  w.end_array();
  w.key("empty").begin_array().end_array();
  w.key("nested").begin_array().begin_array().num(1).num(2).end_array().begin_array().end_array().end_array();
  w.field("ok", true);
  w.key("none").null();
  w.field("reason", std::optional<std::string>{});
  w.field("tracking", std::optional<std::string>{"T1"});
  w.key("raw").raw(R"({"x":1})");
  w.end_object();
  std::string expected =
      R"({"id":"o1","items":[{"productId":"A","quantity":2},{"productId":"B","quantity":3}],)"
      R"("empty":[],"nested":[[1,2],[]],"ok":true,"none":null,"reason":null,"tracking":"T1",)"
      R"("raw":{"x":1}})";
  EXPECT_EQ(w.view(), expected);
  EXPECT_NO_THROW(boost::json::parse(w.view()));
}

TEST(JsonWriter, TopLevelArrayOfScalars) {
  JsonWriter w;
  w.begin_array().num(-1).str("x").boolean(false).money(Money{-250}).end_array();
  EXPECT_EQ(w.take(), R"([-1,"x",false,-2.50])");
}

}  // namespace
}  // namespace oms::http
