#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "replication/term_cache.hpp"

namespace annal::replication {
namespace {

// The obvious model: one term per index.
struct NaiveTerms {
    raft::Index base = 0;
    std::vector<raft::Term> terms{0};  // terms[0] is the base's term

    raft::Index last() const { return base + terms.size() - 1; }
    std::optional<raft::Term> term(raft::Index i) const {
        if (i < base || i > last()) {
            return std::nullopt;
        }
        return terms[i - base];
    }
};

void check_same(const TermCache& cache, const NaiveTerms& model) {
    REQUIRE(cache.base_index() == model.base);
    REQUIRE(cache.last_index() == model.last());
    const raft::Index from = model.base > 2 ? model.base - 2 : 0;
    for (raft::Index i = from; i <= model.last() + 2; ++i) {
        REQUIRE(cache.term(i) == model.term(i));
    }
}

}  // namespace

TEST_CASE("term cache keeps one run per term and answers every index") {
    TermCache cache;
    cache.reset(10, 2);
    CHECK(cache.term(10) == 2u);
    CHECK_FALSE(cache.term(11));
    for (raft::Index i = 11; i <= 20; ++i) {
        REQUIRE(cache.append(i, i <= 15 ? 2 : 5));
    }
    CHECK(cache.run_count() == 2);
    CHECK(cache.term(15) == 2u);
    CHECK(cache.term(16) == 5u);
    CHECK_FALSE(cache.append(22, 5));  // gap
    CHECK_FALSE(cache.append(21, 4));  // lower term
    CHECK(cache.last_index() == 20);
    cache.truncate_after(15);
    CHECK(cache.run_count() == 1);
    CHECK(cache.last_index() == 15);
    CHECK(cache.append(16, 7));
    CHECK(cache.term(16) == 7u);
    cache.compact(13);
    CHECK(cache.base_index() == 13);
    CHECK(cache.base_term() == 2u);
    CHECK_FALSE(cache.term(12));
    CHECK(cache.term(14) == 2u);
    CHECK(cache.term(16) == 7u);
    CHECK(cache.append_through(30, 7));
    CHECK(cache.run_count() == 2);
    CHECK(cache.term(30) == 7u);
}

TEST_CASE("term cache agrees with a naive model under random operations") {
    std::mt19937_64 rng(12345);
    for (int round = 0; round < 50; ++round) {
        TermCache cache;
        NaiveTerms model;
        cache.reset(0, 0);
        raft::Term term = 1;
        for (int step = 0; step < 300; ++step) {
            const auto op = rng() % 10;
            if (op < 6) {
                if (rng() % 4 == 0) {
                    term += 1 + rng() % 3;
                }
                REQUIRE(cache.append(model.last() + 1, term));
                model.terms.push_back(term);
            } else if (op < 8) {
                const raft::Index to = model.base + rng() % (model.last() - model.base + 1);
                cache.truncate_after(to);
                model.terms.resize(to - model.base + 1);
                term = std::max(term, model.terms.back());
            } else {
                const raft::Index to = model.base + rng() % (model.last() - model.base + 1);
                cache.compact(to);
                model.terms.erase(
                    model.terms.begin(),
                    model.terms.begin() + static_cast<std::ptrdiff_t>(to - model.base));
                model.base = to;
            }
            check_same(cache, model);
        }
    }
}

}  // namespace annal::replication
