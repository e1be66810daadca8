// Routing: literal vs parameter segments, captured parameters, 404/405 problem+json.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <string>

#include "libs/http/json.h"
#include "libs/http/message.h"
#include "libs/http/router.h"

namespace oms::http {
namespace {

Response text(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}

Request make(std::string method, std::string path, Role role = Role::kCustomer) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.role = role;
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add("GET", "/api/orders", Role::kCustomer, [](Request&) { return text("list"); });
    router.add("POST", "/api/orders", Role::kCustomer, [](Request&) { return text("create"); });
    router.add("GET", "/api/orders/{orderId}", Role::kCustomer, [](Request& r) {
      return text("get:" + r.params.at("orderId"));
    });
    router.add("GET", "/api/orders/summary", Role::kCustomer, [](Request&) { return text("summary"); });
    router.add("POST", "/api/orders/{orderId}/cancel", Role::kCustomer, [](Request& r) {
      return text("cancel:" + r.params.at("orderId"));
    });
    router.add("POST", "/api/products", Role::kStaff, [](Request&) { return text("created"); });
    router.add("GET", "/api/products/{productId}/stock/{warehouse}", Role::kCustomer, [](Request& r) {
      return text(r.params.at("productId") + "@" + r.params.at("warehouse"));
    });
  }
  Router router;
};

TEST_F(RouterTest, LiteralRouteMatches) {
  auto req = make("GET", "/api/orders");
  auto res = router.dispatch(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "list");
  auto post = make("POST", "/api/orders");
  EXPECT_EQ(router.dispatch(post).body, "create");
}

TEST_F(RouterTest, ParamCaptured) {
  auto req = make("GET", "/api/orders/abc-123");
  auto res = router.dispatch(req);
  EXPECT_EQ(res.body, "get:abc-123");
  EXPECT_EQ(req.params.at("orderId"), "abc-123");
}

TEST_F(RouterTest, LiteralWinsOverParamWhateverTheRegistrationOrder) {
  // "/api/orders/{orderId}" was added before "/api/orders/summary".
  auto req = make("GET", "/api/orders/summary");
  auto res = router.dispatch(req);
  EXPECT_EQ(res.body, "summary");
  EXPECT_TRUE(req.params.empty());
}

TEST_F(RouterTest, SeveralParamsCaptured) {
  auto req = make("GET", "/api/products/SKU-1/stock/east");
  EXPECT_EQ(router.dispatch(req).body, "SKU-1@east");
  EXPECT_EQ(req.params.size(), 2u);
}

TEST_F(RouterTest, ParamInTheMiddle) {
  auto req = make("POST", "/api/orders/o-9/cancel");
  EXPECT_EQ(router.dispatch(req).body, "cancel:o-9");
}

TEST_F(RouterTest, TrailingSlashIsTheSameRoute) {
  auto req = make("GET", "/api/orders/");
  EXPECT_EQ(router.dispatch(req).body, "list");
}

TEST_F(RouterTest, MethodNotAllowedListsAllowedMethods) {
  auto req = make("DELETE", "/api/orders");
  auto res = router.dispatch(req);
  EXPECT_EQ(res.status, 405);
  auto allow = res.header("allow");
  ASSERT_TRUE(allow.has_value());
  EXPECT_NE(allow->find("GET"), std::string_view::npos) << *allow;
  EXPECT_NE(allow->find("POST"), std::string_view::npos) << *allow;
  EXPECT_EQ(allow->find("DELETE"), std::string_view::npos) << *allow;
  EXPECT_EQ(res.content_type, "application/problem+json");
  auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("status").as_int64(), 405);
  EXPECT_EQ(body.at("title").as_string(), "Method Not Allowed");
}

TEST_F(RouterTest, MethodNotAllowedOnParamRoute) {
  auto req = make("DELETE", "/api/orders/o-1/cancel");
  auto res = router.dispatch(req);
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("allow").value_or(""), "POST");
}

TEST_F(RouterTest, AllowHeaderHasNoDuplicates) {
  // GET /api/orders/summary matches both the literal and the param route.
  auto req = make("PUT", "/api/orders/summary");
  auto res = router.dispatch(req);
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("allow").value_or(""), "GET, HEAD");  // HEAD: every GET route answers it
}

TEST_F(RouterTest, NotFoundIsProblemJson) {
  auto req = make("GET", "/api/nothing/here");
  auto res = router.dispatch(req);
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/problem+json");
  EXPECT_FALSE(res.header("allow").has_value());
  auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("type").as_string(), "about:blank");
  EXPECT_EQ(body.at("title").as_string(), "Not Found");
  EXPECT_EQ(body.at("status").as_int64(), 404);
  EXPECT_NE(std::string(body.at("detail").as_string()).find("/api/nothing/here"), std::string::npos);
  EXPECT_EQ(body.at("instance").as_string(), "/api/nothing/here");
}

TEST_F(RouterTest, ExtraSegmentIsNotFound) {
  auto req = make("GET", "/api/orders/o-1/extra");
  EXPECT_EQ(router.dispatch(req).status, 404);
}

TEST_F(RouterTest, EachRouteNamesTheLeastRoleThatMayCallIt) {
  for (Role role : {Role::kNone, Role::kCustomer}) {
    auto req = make("POST", "/api/products", role);
    auto res = router.dispatch(req);
    EXPECT_EQ(res.status, 403) << to_string(role);
    EXPECT_EQ(res.content_type, "application/problem+json");
    EXPECT_NE(res.body.find("staff"), std::string::npos) << res.body;
  }
  for (Role role : {Role::kStaff, Role::kAdmin}) {
    auto req = make("POST", "/api/products", role);
    EXPECT_EQ(router.dispatch(req).body, "created") << to_string(role);
  }
  auto nobody = make("GET", "/api/orders", Role::kNone);
  EXPECT_EQ(router.dispatch(nobody).status, 403);
  // Unknown routes stay 404 and wrong methods 405, whatever the role.
  auto unknown = make("POST", "/api/nothing", Role::kNone);
  EXPECT_EQ(router.dispatch(unknown).status, 404);
  auto wrong = make("DELETE", "/api/products", Role::kNone);
  EXPECT_EQ(router.dispatch(wrong).status, 405);
}

TEST_F(RouterTest, Knows) {
  EXPECT_TRUE(router.knows("/api/orders/x/cancel"));
  EXPECT_TRUE(router.knows("/api/orders"));
  EXPECT_FALSE(router.knows("/api/payments"));
}

TEST_F(RouterTest, MergeAddsRoutes) {
  Router other;
  other.add("GET", "/api/payments/{id}", Role::kCustomer, [](Request& r) { return text("pay:" + r.params.at("id")); });
  router.merge(other);
  auto req = make("GET", "/api/payments/p1");
  EXPECT_EQ(router.dispatch(req).body, "pay:p1");
  auto old = make("GET", "/api/orders");
  EXPECT_EQ(router.dispatch(old).body, "list");
}

// ---- problem+json helpers ----

TEST(Problem, StatusMappingIsOneToOne) {
  EXPECT_EQ(status_of(Errc::kInvalid), 400);
  EXPECT_EQ(status_of(Errc::kUnauthorized), 401);
  EXPECT_EQ(status_of(Errc::kForbidden), 403);
  EXPECT_EQ(status_of(Errc::kNotFound), 404);
  EXPECT_EQ(status_of(Errc::kConflict), 409);
  EXPECT_EQ(status_of(Errc::kTooLarge), 413);
  EXPECT_EQ(status_of(Errc::kUnsupportedMedia), 415);
  EXPECT_EQ(status_of(Errc::kUnprocessable), 422);
  EXPECT_EQ(status_of(Errc::kRateLimited), 429);
  EXPECT_EQ(status_of(Errc::kUnavailable), 503);
}

TEST(Problem, FromErrorCarriesDetailAndHeaders) {
  auto r = from_error(Error{Errc::kUnauthorized, "token expired"}, "/api/x");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate").value_or(""), "Bearer");
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("detail").as_string(), "token expired");
  EXPECT_EQ(body.at("instance").as_string(), "/api/x");
  auto busy = from_error(Error{Errc::kUnavailable, "db down"}, "/");
  EXPECT_EQ(busy.header("retry-after").value_or(""), "1");
}

// ---- percent_decode / parse_query ----

TEST(PercentDecode, DecodesEscapes) {
  EXPECT_EQ(percent_decode("a%20b", false), "a b");
  EXPECT_EQ(percent_decode("%41%62%2f", false), "Ab/");
  EXPECT_EQ(percent_decode("caf%C3%A9", false), "caf\xc3\xa9");
}

TEST(PercentDecode, PlusOnlyInQueryMode) {
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
}

TEST(PercentDecode, MalformedEscapesKeptLiterally) {
  EXPECT_EQ(percent_decode("100%", false), "100%");
  EXPECT_EQ(percent_decode("%zz", false), "%zz");
  EXPECT_EQ(percent_decode("%4", false), "%4");
}

TEST(PercentDecode, EscapeAtTheVeryEnd) {
  // "%41" as the last three characters must decode like anywhere else.
  EXPECT_EQ(percent_decode("%41", false), "A");
  EXPECT_EQ(percent_decode("x%20", false), "x ");
}

TEST(ParseQuery, KeysAndValuesDecoded) {
  auto q = parse_query("limit=10&status=IN%20PROGRESS&name=a+b&flag");
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(q["limit"], "10");
  EXPECT_EQ(q["status"], "IN PROGRESS");
  EXPECT_EQ(q["name"], "a b");
  EXPECT_EQ(q["flag"], "");
}

TEST(ParseQuery, FirstOccurrenceWinsAndEmptyPartsSkipped) {
  auto q = parse_query("a=1&&a=2&b=");
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q["a"], "1");
  EXPECT_EQ(q["b"], "");
  EXPECT_TRUE(parse_query("").empty());
}

TEST(Headers, SetHeaderLowerCasesAndReplaces) {
  Response r;
  r.set_header("X-Request-Id", "1");
  r.set_header("x-request-id", "2");
  EXPECT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.header("x-request-id").value_or(""), "2");
}

}  // namespace
}  // namespace oms::http

namespace oms::http {
namespace {

TEST(Utf8, AcceptsWellFormedAndRejectsTheRest) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("zo\xC3\xAB \xE2\x82\xAC \xF0\x9F\x98\x80"));  // ë € 😀
  EXPECT_FALSE(valid_utf8("\xFF\xFE"));
  EXPECT_FALSE(valid_utf8("\xC3"));              // truncated
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
}

}  // namespace
}  // namespace oms::http
