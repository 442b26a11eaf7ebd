// aggregates_store against a real PostgreSQL: aggregates, their hosts and metadata, and the
// availability zones hosts get from them.
#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/store/aggregates_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using Strings = std::vector<std::string>;
using Meta = std::map<std::string, std::string>;

class AggregatesStoreTest : public StoreTest {
 protected:
  Aggregate Create(const std::string& name, std::optional<std::string> az = std::nullopt) {
    Aggregate a;
    db_->Transact([&](Tx& tx) { a = CreateAggregate(tx, name, az, T(1)); });
    return a;
  }
  Aggregate Find(const std::string& id_or_uuid) {
    std::optional<Aggregate> a;
    db_->Transact([&](Tx& tx) { a = FindAggregate(tx, id_or_uuid); });
    EXPECT_TRUE(a) << id_or_uuid;
    return a.value_or(Aggregate{});
  }
  Strings Zones(int64_t host, int64_t except = 0) {
    Strings z;
    db_->Transact([&](Tx& tx) { z = HostZones(tx, host, except); });
    return z;
  }
  std::string HostZone(int64_t host) {
    std::string zone;
    db_->Transact([&](Tx& tx) {
      HostFilter f;
      f.id = host;
      zone = FindHost(tx, f)->availability_zone;
    });
    return zone;
  }
};

TEST_F(AggregatesStoreTest, CreateReturnsTheAggregateWithItsZone) {
  auto a = Create("rack-1", "az1");
  EXPECT_GT(a.id, 0);
  EXPECT_TRUE(IsUuid(a.uuid));
  EXPECT_EQ(a.name, "rack-1");
  EXPECT_EQ(a.availability_zone, "az1");
  EXPECT_EQ(a.metadata, (Meta{{"availability_zone", "az1"}}));
  EXPECT_TRUE(a.hosts.empty());
  EXPECT_EQ(a.created_at, T(1));
  EXPECT_FALSE(a.updated_at);
}

TEST_F(AggregatesStoreTest, CreateWithoutZoneHasNoMetadata) {
  auto a = Create("plain");
  EXPECT_FALSE(a.availability_zone);
  EXPECT_TRUE(a.metadata.empty());
}

TEST_F(AggregatesStoreTest, DuplicateNameIsAConflictNamingTheAggregate) {
  Create("rack-1");
  try {
    Create("rack-1", "az2");
    FAIL() << "duplicate aggregate created";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict);
    EXPECT_STREQ(e.what(), "Aggregate rack-1 already exists.");
  }
  std::vector<Aggregate> all;
  db_->Transact([&](Tx& tx) { all = ListAggregates(tx); });
  EXPECT_EQ(all.size(), 1u);
}

TEST_F(AggregatesStoreTest, FindByIdOrUuidAndNothingElse) {
  auto a = Create("rack-1");
  EXPECT_EQ(Find(std::to_string(a.id)).uuid, a.uuid);
  EXPECT_EQ(Find(a.uuid).id, a.id);
  db_->Transact([&](Tx& tx) {
    EXPECT_FALSE(FindAggregate(tx, "rack-1"));
    EXPECT_FALSE(FindAggregate(tx, ""));
    EXPECT_FALSE(FindAggregate(tx, "-1"));
    EXPECT_FALSE(FindAggregate(tx, "99999999999999999999999"));
    EXPECT_FALSE(FindAggregate(tx, NewUuid()));
  });
}

TEST_F(AggregatesStoreTest, HostsCanBeAddedAndRemoved) {
  auto a = Create("rack-1");
  auto h1 = AddHost("compute-b");
  auto h2 = AddHost("compute-a");
  db_->Transact([&](Tx& tx) {
    AddAggregateHost(tx, a.id, h1, T(2));
    AddAggregateHost(tx, a.id, h2, T(3));
  });
  auto got = Find(a.uuid);
  EXPECT_EQ(got.hosts, (Strings{"compute-a", "compute-b"}));
  EXPECT_EQ(got.updated_at, T(3));
  db_->Transact([&](Tx& tx) { RemoveAggregateHost(tx, a.id, h1, T(4)); });
  got = Find(a.uuid);
  EXPECT_EQ(got.hosts, Strings{"compute-a"});
  EXPECT_EQ(got.updated_at, T(4));
}

TEST_F(AggregatesStoreTest, AddingAHostTwiceIsAConflict) {
  auto a = Create("rack-1");
  auto h = AddHost("compute-1");
  db_->Transact([&](Tx& tx) { AddAggregateHost(tx, a.id, h, T(2)); });
  try {
    db_->Transact([&](Tx& tx) { AddAggregateHost(tx, a.id, h, T(3)); });
    FAIL() << "host added twice";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict);
  }
  EXPECT_EQ(Find(a.uuid).hosts, Strings{"compute-1"});
}

TEST_F(AggregatesStoreTest, MetadataIsSetReplacedAndDeleted) {
  auto a = Create("rack-1", "az1");
  db_->Transact([&](Tx& tx) {
    SetAggregateMetadata(tx, a.id, {{"ssd", "true"}, {"hypervisor_pool", "p1"}}, T(2));
  });
  EXPECT_EQ(Find(a.uuid).metadata,
            (Meta{{"availability_zone", "az1"}, {"ssd", "true"}, {"hypervisor_pool", "p1"}}));
  db_->Transact([&](Tx& tx) {
    SetAggregateMetadata(tx, a.id, {{"ssd", std::nullopt}, {"availability_zone", "az2"}}, T(3));
  });
  auto got = Find(a.uuid);
  EXPECT_EQ(got.metadata, (Meta{{"availability_zone", "az2"}, {"hypervisor_pool", "p1"}}));
  EXPECT_EQ(got.availability_zone, "az2");
  EXPECT_EQ(got.updated_at, T(3));
  db_->Transact([&](Tx& tx) {
    SetAggregateMetadata(tx, a.id, {{"availability_zone", std::nullopt}}, T(4));
  });
  EXPECT_FALSE(Find(a.uuid).availability_zone);
}

TEST_F(AggregatesStoreTest, DeletingAMissingKeyIsHarmless) {
  auto a = Create("rack-1");
  EXPECT_NO_THROW(db_->Transact([&](Tx& tx) {
    SetAggregateMetadata(tx, a.id, {{"nope", std::nullopt}}, T(2));
  }));
}

TEST_F(AggregatesStoreTest, HostZonesComeFromZoneBearingAggregates) {
  auto az1 = Create("agg-az1", "az1");
  auto az2 = Create("agg-az2", "az2");
  auto plain = Create("agg-plain");
  auto h = AddHost("compute-1");
  auto lonely = AddHost("compute-2");
  db_->Transact([&](Tx& tx) {
    AddAggregateHost(tx, az2.id, h, T(2));
    AddAggregateHost(tx, az1.id, h, T(2));
    AddAggregateHost(tx, plain.id, h, T(2));
  });
  EXPECT_EQ(Zones(h), (Strings{"az1", "az2"}));
  EXPECT_EQ(Zones(h, az1.id), Strings{"az2"});
  EXPECT_EQ(Zones(h, az2.id), Strings{"az1"});
  EXPECT_EQ(Zones(h, plain.id), (Strings{"az1", "az2"}));
  EXPECT_TRUE(Zones(lonely).empty());
}

TEST_F(AggregatesStoreTest, ZoneSharedByTwoAggregatesIsListedOnce) {
  auto a = Create("agg-1", "az1");
  auto b = Create("agg-2", "az1");
  auto h = AddHost("compute-1");
  db_->Transact([&](Tx& tx) {
    AddAggregateHost(tx, a.id, h, T(2));
    AddAggregateHost(tx, b.id, h, T(2));
  });
  EXPECT_EQ(Zones(h), Strings{"az1"});
  EXPECT_EQ(Zones(h, a.id), Strings{"az1"});
}

TEST_F(AggregatesStoreTest, HostsShowTheirAggregateZoneOrTheDefault) {
  auto a = Create("agg-1", "az1");
  auto in = AddHost("compute-1");
  auto out = AddHost("compute-2");
  db_->Transact([&](Tx& tx) { AddAggregateHost(tx, a.id, in, T(2)); });
  EXPECT_EQ(HostZone(in), "az1");
  EXPECT_EQ(HostZone(out), kDefaultAvailabilityZone);
  db_->Transact([&](Tx& tx) { RemoveAggregateHost(tx, a.id, in, T(3)); });
  EXPECT_EQ(HostZone(in), kDefaultAvailabilityZone);
}

TEST_F(AggregatesStoreTest, DeletingAnAggregateReleasesItsHostsAndMetadata) {
  auto a = Create("agg-1", "az1");
  auto h = AddHost("compute-1");
  db_->Transact([&](Tx& tx) { AddAggregateHost(tx, a.id, h, T(2)); });
  db_->Transact([&](Tx& tx) { DeleteAggregate(tx, a.id); });
  db_->Transact([&](Tx& tx) {
    EXPECT_FALSE(FindAggregate(tx, a.uuid));
    EXPECT_TRUE(ListAggregates(tx).empty());
  });
  EXPECT_TRUE(Zones(h).empty());
  EXPECT_EQ(HostZone(h), kDefaultAvailabilityZone);
  // The name is free again.
  EXPECT_EQ(Create("agg-1").name, "agg-1");
}

TEST_F(AggregatesStoreTest, RenameChangesTheNameAndRefusesATakenOne) {
  auto a = Create("agg-1");
  Create("agg-2");
  db_->Transact([&](Tx& tx) { RenameAggregate(tx, a.id, "agg-renamed", T(5)); });
  EXPECT_EQ(Find(a.uuid).name, "agg-renamed");
  EXPECT_EQ(Find(a.uuid).updated_at, T(5));
  try {
    db_->Transact([&](Tx& tx) { RenameAggregate(tx, a.id, "agg-2", T(6)); });
    FAIL() << "renamed onto a taken name";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict);
  }
}

}  // namespace
}  // namespace ferry::controller::store
