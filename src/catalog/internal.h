// Private to catalog/: what the exchange and the subscriptions share.
#pragma once

#include "catalog/catalog.h"

#include <string>
#include <vector>

namespace onewindow::catalog {

// A registry resource, the items asked for (all the grant covers when none are named) and the
// grant that allows reading them today.
struct Allowed {
  std::shared_ptr<const Resource> resource;
  std::vector<std::string> items;
  Grant grant;
};

// catalog.not_a_registry, catalog.unknown_item, catalog.bad_field (an item twice), and the
// errors of Catalog::check_grant.
Result<Allowed> allowed(store::Session& session, const Catalog& catalog, std::string_view resource_id,
                        const std::vector<std::string>& named_items, const Consumer& consumer);

// SM3, in hex, of the canonical JSON of a value: the request and answer hashes of receipts.
Result<std::string> sm3_of_canonical(const nlohmann::json& value);

}  // namespace onewindow::catalog
