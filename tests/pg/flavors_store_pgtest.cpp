// flavors_store against a real PostgreSQL: create, Nova's conflict messages, and deletion that
// leaves servers' copies of the flavor intact.
#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/servers_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

Flavor Make(const std::string& id, const std::string& name, int vcpus = 1, int64_t ram = 512,
            int64_t disk = 1) {
  Flavor f;
  f.flavorid = id;
  f.name = name;
  f.vcpus = vcpus;
  f.memory_mb = ram;
  f.root_gb = disk;
  return f;
}

class FlavorsStoreTest : public StoreTest {
 protected:
  Flavor Create(const Flavor& f) {
    Flavor out;
    db_->Transact([&](Tx& tx) { out = CreateFlavor(tx, f); });
    return out;
  }
  std::optional<Flavor> Find(const std::string& id) {
    std::optional<Flavor> f;
    db_->Transact([&](Tx& tx) { f = FindFlavor(tx, id); });
    return f;
  }
  // The ferry::Error a create throws (fails the test if none).
  Error CreateError(const Flavor& f) {
    try {
      Create(f);
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "flavor " << f.flavorid << "/" << f.name << " was created";
    return Error(Errc::kInternal, "");
  }
};

TEST_F(FlavorsStoreTest, CreateStoresEveryFieldAndFindReturnsIt) {
  auto f = Make("42", "m1.custom", 4, 8192, 80);
  f.ephemeral_gb = 5;
  f.swap_mb = 1024;
  f.rxtx_factor = 2.5;
  f.is_public = false;
  f.description = "for the database team";
  auto created = Create(f);
  EXPECT_GT(created.id, 0);
  auto got = Find("42");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, created.id);
  EXPECT_EQ(got->flavorid, "42");
  EXPECT_EQ(got->name, "m1.custom");
  EXPECT_EQ(got->vcpus, 4);
  EXPECT_EQ(got->memory_mb, 8192);
  EXPECT_EQ(got->root_gb, 80);
  EXPECT_EQ(got->ephemeral_gb, 5);
  EXPECT_EQ(got->swap_mb, 1024);
  EXPECT_EQ(got->rxtx_factor, 2.5);
  EXPECT_FALSE(got->is_public);
  EXPECT_EQ(got->description, "for the database team");
  EXPECT_FALSE(Find("43"));
}

TEST_F(FlavorsStoreTest, ExtraSpecsMergeAndDeleteOneKeyAndDescriptionChanges) {
  Create(Make("7", "specs"));
  bool ok = false;
  db_->Transact([&](Tx& tx) { ok = MergeFlavorExtraSpecs(tx, "7", {{"a", "1"}, {"b", "2"}}); });
  EXPECT_TRUE(ok);
  db_->Transact([&](Tx& tx) { ok = MergeFlavorExtraSpecs(tx, "7", {{"b", "3"}}); });
  EXPECT_EQ(Find("7")->extra_specs, (nlohmann::json{{"a", "1"}, {"b", "3"}}));
  db_->Transact([&](Tx& tx) { ok = DeleteFlavorExtraSpec(tx, "7", "a"); });
  EXPECT_TRUE(ok);
  db_->Transact([&](Tx& tx) { ok = DeleteFlavorExtraSpec(tx, "7", "a"); });
  EXPECT_FALSE(ok) << "no such key";
  EXPECT_EQ(Find("7")->extra_specs, (nlohmann::json{{"b", "3"}}));
  db_->Transact([&](Tx& tx) { ok = MergeFlavorExtraSpecs(tx, "8", {{"a", "1"}}); });
  EXPECT_FALSE(ok) << "no such flavor";
  db_->Transact([&](Tx& tx) { ok = SetFlavorDescription(tx, "7", std::string("described")); });
  EXPECT_TRUE(ok);
  EXPECT_EQ(Find("7")->description, "described");
  db_->Transact([&](Tx& tx) { ok = SetFlavorDescription(tx, "7", std::nullopt); });
  EXPECT_FALSE(Find("7")->description);
}

TEST_F(FlavorsStoreTest, FlavorProjectsAreAddedOnceRemovedAndGoWithTheFlavor) {
  Create(Make("p", "private"));
  bool ok = false;
  db_->Transact([&](Tx& tx) { ok = AddFlavorProject(tx, "p", "b-project"); });
  EXPECT_TRUE(ok);
  db_->Transact([&](Tx& tx) { ok = AddFlavorProject(tx, "p", "a-project"); });
  db_->Transact([&](Tx& tx) { ok = AddFlavorProject(tx, "p", "a-project"); });
  EXPECT_FALSE(ok) << "already there";
  std::vector<std::string> projects;
  db_->Transact([&](Tx& tx) { projects = ListFlavorProjects(tx, "p"); });
  EXPECT_EQ(projects, (std::vector<std::string>{"a-project", "b-project"}));
  db_->Transact([&](Tx& tx) { ok = RemoveFlavorProject(tx, "p", "b-project"); });
  EXPECT_TRUE(ok);
  db_->Transact([&](Tx& tx) { ok = RemoveFlavorProject(tx, "p", "b-project"); });
  EXPECT_FALSE(ok);
  db_->Transact([&](Tx& tx) { DeleteFlavor(tx, "p"); });
  Create(Make("p", "private"));
  db_->Transact([&](Tx& tx) { projects = ListFlavorProjects(tx, "p"); });
  EXPECT_TRUE(projects.empty()) << "access went with the deleted flavor";
}

TEST_F(FlavorsStoreTest, ListIsOrderedByRamThenId) {
  Create(Make("b", "large", 1, 4096));
  Create(Make("a", "small", 1, 512));
  Create(Make("c", "medium-c", 1, 2048));
  Create(Make("bb", "medium-bb", 1, 2048));
  std::vector<std::string> ids;
  db_->Transact([&](Tx& tx) {
    for (const auto& f : ListFlavors(tx)) ids.push_back(f.flavorid);
  });
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "bb", "c", "b"}));
}

TEST_F(FlavorsStoreTest, DuplicateNameIsAConflictWithNovasMessage) {
  Create(Make("1", "m1.small"));
  auto e = CreateError(Make("2", "m1.small"));
  EXPECT_EQ(e.code(), Errc::kConflict);
  EXPECT_STREQ(e.what(), "Flavor with name m1.small already exists.");
}

TEST_F(FlavorsStoreTest, DuplicateIdIsAConflictWithNovasMessage) {
  Create(Make("1", "m1.small"));
  auto e = CreateError(Make("1", "m1.other"));
  EXPECT_EQ(e.code(), Errc::kConflict);
  EXPECT_STREQ(e.what(), "Flavor with ID 1 already exists.");
  EXPECT_EQ(Find("1")->name, "m1.small") << "the original is untouched";
}

TEST_F(FlavorsStoreTest, InvalidSizesAreBadRequest) {
  auto e = CreateError(Make("1", "zero", 0, 512));
  EXPECT_EQ(e.code(), Errc::kBadRequest);
  EXPECT_FALSE(Find("1"));
}

TEST_F(FlavorsStoreTest, DeleteRemovesTheFlavorOnce) {
  Create(Make("1", "m1.small"));
  bool first = false, second = true;
  db_->Transact([&](Tx& tx) { first = DeleteFlavor(tx, "1"); });
  db_->Transact([&](Tx& tx) { second = DeleteFlavor(tx, "1"); });
  EXPECT_TRUE(first);
  EXPECT_FALSE(second);
  EXPECT_FALSE(Find("1"));
  // Name and id are free again.
  EXPECT_NO_THROW(Create(Make("1", "m1.small")));
}

TEST_F(FlavorsStoreTest, DeletingAFlavorInUseKeepsTheServersCopy) {
  auto flavor = Create(Make("7", "m1.large", 4, 8192, 80));
  const std::string uuid = "12345678-0000-4000-8000-000000000007";
  db_->Transact([&](Tx& tx) {
    Server s;
    s.uuid = uuid;
    s.name = "keeps-its-flavor";
    s.flavor_id = flavor.id;
    s.flavorid = flavor.flavorid;
    s.flavor_name = flavor.name;
    s.vcpus = flavor.vcpus;
    s.memory_mb = flavor.memory_mb;
    s.root_gb = flavor.root_gb;
    s.vm_state = "active";
    s.storage_kind = "local";
    s.user_id = "u";
    s.project_id = "p";
    s.created_at = TimePoint(std::chrono::seconds(1'700'000'000));
    InsertServer(tx, s);
  });
  bool deleted = false;
  db_->Transact([&](Tx& tx) { deleted = DeleteFlavor(tx, "7"); });
  EXPECT_TRUE(deleted);
  std::optional<Server> s;
  db_->Transact([&](Tx& tx) { s = FindServer(tx, uuid); });
  ASSERT_TRUE(s);
  EXPECT_EQ(s->flavorid, "7");
  EXPECT_EQ(s->flavor_name, "m1.large");
  EXPECT_EQ(s->vcpus, 4);
  EXPECT_EQ(s->memory_mb, 8192);
  EXPECT_EQ(s->root_gb, 80);
  EXPECT_EQ(s->flavor_id, 0) << "the link to the deleted row is gone";
  // A new flavor may reuse the id without touching the server.
  Create(Make("7", "m1.large-v2", 8, 16384, 160));
  db_->Transact([&](Tx& tx) { s = FindServer(tx, uuid); });
  EXPECT_EQ(s->flavor_name, "m1.large");
  EXPECT_EQ(s->memory_mb, 8192);
}

}  // namespace
}  // namespace ferry::controller::store
