#include "controller/store/flavors_store.hpp"

#include "common/errors.hpp"
#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

constexpr Statement kListFlavors{"flavors_list", R"sql(
SELECT id, flavorid, name, vcpus, memory_mb, root_gb, ephemeral_gb, swap_mb, rxtx_factor,
       is_public, description, extra_specs::text
FROM flavors WHERE ($1::text IS NULL OR flavorid = $1) ORDER BY memory_mb, flavorid)sql"};

constexpr Statement kFlavorNameOrIdTaken{"flavors_taken", R"sql(
SELECT coalesce(bool_or(name = $1), false), coalesce(bool_or(flavorid = $2), false)
FROM flavors WHERE name = $1 OR flavorid = $2)sql"};

constexpr Statement kInsertFlavor{"flavors_insert", R"sql(
INSERT INTO flavors (flavorid, name, vcpus, memory_mb, root_gb, ephemeral_gb, swap_mb,
                     rxtx_factor, is_public, description)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id)sql"};

// Extra specs: the given keys set (others kept), or one key removed.
constexpr Statement kMergeExtraSpecs{"flavors_merge_extra_specs", R"sql(
UPDATE flavors SET extra_specs = extra_specs || $2::jsonb WHERE flavorid = $1)sql"};
constexpr Statement kDeleteExtraSpec{"flavors_delete_extra_spec", R"sql(
UPDATE flavors SET extra_specs = extra_specs - $2::text WHERE flavorid = $1 AND extra_specs ? $2)sql"};
constexpr Statement kSetDescription{"flavors_set_description",
                                    "UPDATE flavors SET description = $2 WHERE flavorid = $1"};

// Flavor access: the projects a private flavor is shared with.
constexpr Statement kListFlavorProjects{"flavor_projects_list", R"sql(
SELECT p.project_id FROM flavor_projects p JOIN flavors f ON f.id = p.flavor_id
WHERE f.flavorid = $1 ORDER BY p.project_id)sql"};
constexpr Statement kAddFlavorProject{"flavor_projects_add", R"sql(
INSERT INTO flavor_projects (flavor_id, project_id)
SELECT id, $2 FROM flavors WHERE flavorid = $1 ON CONFLICT DO NOTHING)sql"};
constexpr Statement kRemoveFlavorProject{"flavor_projects_remove", R"sql(
DELETE FROM flavor_projects p USING flavors f
WHERE f.id = p.flavor_id AND f.flavorid = $1 AND p.project_id = $2)sql"};

// Servers carry a copy of their flavor, so deleting one in use is fine (Nova allows it too).
constexpr Statement kDeleteFlavor{"flavors_delete", "DELETE FROM flavors WHERE flavorid = $1"};

Flavor FlavorFromRow(const pqxx::row& r) {
  Flavor f;
  f.id = r[0].as<int64_t>();
  f.flavorid = r[1].as<std::string>();
  f.name = r[2].as<std::string>();
  f.vcpus = r[3].as<int>();
  f.memory_mb = r[4].as<int64_t>();
  f.root_gb = r[5].as<int64_t>();
  f.ephemeral_gb = r[6].as<int64_t>();
  f.swap_mb = r[7].as<int64_t>();
  f.rxtx_factor = r[8].as<double>();
  f.is_public = r[9].as<bool>();
  f.description = OptString(r[10]);
  f.extra_specs = ToJson(r[11]);
  return f;
}

}  // namespace

std::vector<Flavor> ListFlavors(Tx& tx) {
  std::vector<Flavor> out;
  for (const auto& r : tx.Exec(kListFlavors, std::optional<std::string>{})) {
    out.push_back(FlavorFromRow(r));
  }
  return out;
}

std::optional<Flavor> FindFlavor(Tx& tx, const std::string& flavorid) {
  auto r = tx.Exec(kListFlavors, flavorid);
  if (r.empty()) return std::nullopt;
  return FlavorFromRow(r[0]);
}

Flavor CreateFlavor(Tx& tx, const Flavor& f) {
  auto taken = tx.Exec(kFlavorNameOrIdTaken, f.name, f.flavorid)[0];
  if (taken[0].as<bool>()) {
    throw Error(Errc::kConflict, "Flavor with name " + f.name + " already exists.");
  }
  if (taken[1].as<bool>()) {
    throw Error(Errc::kConflict, "Flavor with ID " + f.flavorid + " already exists.");
  }
  Flavor out = f;
  out.id = tx.Exec(kInsertFlavor, f.flavorid, f.name, f.vcpus, f.memory_mb, f.root_gb,
                   f.ephemeral_gb, f.swap_mb, f.rxtx_factor, f.is_public, f.description)[0][0]
               .as<int64_t>();
  return out;
}

bool MergeFlavorExtraSpecs(Tx& tx, const std::string& flavorid, const nlohmann::json& specs) {
  return tx.Exec(kMergeExtraSpecs, flavorid, specs.dump()).affected_rows() > 0;
}

bool DeleteFlavorExtraSpec(Tx& tx, const std::string& flavorid, const std::string& key) {
  return tx.Exec(kDeleteExtraSpec, flavorid, key).affected_rows() > 0;
}

bool SetFlavorDescription(Tx& tx, const std::string& flavorid,
                          const std::optional<std::string>& description) {
  return tx.Exec(kSetDescription, flavorid, description).affected_rows() > 0;
}

std::vector<std::string> ListFlavorProjects(Tx& tx, const std::string& flavorid) {
  std::vector<std::string> out;
  for (const auto& r : tx.Exec(kListFlavorProjects, flavorid))
    out.push_back(r[0].as<std::string>());
  return out;
}

bool AddFlavorProject(Tx& tx, const std::string& flavorid, const std::string& project_id) {
  return tx.Exec(kAddFlavorProject, flavorid, project_id).affected_rows() > 0;
}

bool RemoveFlavorProject(Tx& tx, const std::string& flavorid, const std::string& project_id) {
  return tx.Exec(kRemoveFlavorProject, flavorid, project_id).affected_rows() > 0;
}

bool DeleteFlavor(Tx& tx, const std::string& flavorid) {
  return tx.Exec(kDeleteFlavor, flavorid).affected_rows() > 0;
}

}  // namespace ferry::controller::store
