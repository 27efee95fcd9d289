// Scenario scripts: small readable files in scenarios/*.txt, each showing one Raft rule at
// work on a simulated cluster with a reliable network and instant disks (unless a script
// says otherwise). The checker of the random simulator watches every script too.
//
// Commands (one per line, '#' starts a comment):
//   config key=value...      pre_vote, check_quorum (0/1), max_msg_bytes, max_inflight, chunk
//   log ID t1 t2 ...         node ID starts with entries of these terms (before `nodes`)
//   hardterm T               nodes created next start at term >= T
//   nodes ID...              create voters (all listed ids form the bootstrap membership)
//   joiner ID                create a node with an empty membership (to be added)
//   campaign ID | elect ID   start an election (elect: and deliver everything)
//   tick ID|all N            N ticks, no delivery;  run N: N rounds of tick all + deliver
//   deliver | deliver-only TYPE... | drop
//   isolate ID | partition A B / C D | cut FROM TO | heal | crash ID | restart ID
//   propose ID DATA [refused REASON]
//   conf ID add-learner|promote|remove NODE [refused REASON]
//   transfer ID TARGET [refused REASON]
//   snapshot ID KEEP | read ID CONTEXT [refused REASON]
//   expect role ID ROLE | leader ID L | term ID T | commit ID N | log ID t1 t2 ...
//   expect applied ID d1 d2 ... | read ID CONTEXT | voters ID v... | learners ID l...
//   expect installed N       (snapshots installed so far, cluster-wide)

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sim/cluster.hpp"

namespace {

using namespace annal::raft;
using annal::raft::sim::Cluster;

const std::map<std::string, Refusal> kRefusals = {
    {"not-leader", Refusal::NotLeader},
    {"no-leader", Refusal::NoLeader},
    {"transfer-in-progress", Refusal::TransferInProgress},
    {"change-pending", Refusal::ChangePending},
    {"no-commit-in-term", Refusal::NoCommitInTerm},
    {"unknown-node", Refusal::UnknownNode},
    {"already-member", Refusal::AlreadyMember},
    {"not-a-learner", Refusal::NotALearner},
    {"not-a-voter", Refusal::NotAVoter},
    {"would-lose-quorum", Refusal::WouldLoseQuorum},
};

const std::map<std::string, MessageType> kTypes = {
    {"Append", MessageType::Append},
    {"AppendResponse", MessageType::AppendResponse},
    {"Heartbeat", MessageType::Heartbeat},
    {"HeartbeatResponse", MessageType::HeartbeatResponse},
    {"Vote", MessageType::Vote},
    {"VoteResponse", MessageType::VoteResponse},
    {"PreVote", MessageType::PreVote},
    {"PreVoteResponse", MessageType::PreVoteResponse},
    {"TimeoutNow", MessageType::TimeoutNow},
};

std::string role_name(Role r) {
    return to_string(r);
}

class Script {
  public:
    explicit Script(std::string name) : name_(std::move(name)) {}

    void run(std::istream& in) {
        std::string line;
        while (std::getline(in, line)) {
            ++line_no_;
            if (auto hash = line.find('#'); hash != std::string::npos)
                line.resize(hash);
            std::istringstream words(line);
            std::vector<std::string> w;
            for (std::string x; words >> x;)
                w.push_back(x);
            if (w.empty())
                continue;
            execute(w);
            if (cluster_ && cluster_->failed()) {
                FAIL_CHECK(where() << "checker: " << cluster_->failure());
                return;
            }
        }
    }

  private:
    std::string where() const { return name_ + ":" + std::to_string(line_no_) + ": "; }
    static NodeId id(const std::string& s) { return std::stoull(s); }

    void expect_refusal(Refusal got, const std::vector<std::string>& w, std::size_t at) {
        if (w.size() > at + 1 && w[at] == "refused") {
            CHECK_MESSAGE(got == kRefusals.at(w[at + 1]), where()
                                                              << "expected refusal " << w[at + 1]
                                                              << ", got " << to_string(got));
        } else {
            CHECK_MESSAGE(got == Refusal::None, where() << "refused: " << to_string(got));
        }
    }

    std::vector<Term> log_terms(NodeId n) {
        const RaftLog& log = cluster_->core(n).log();
        std::vector<Term> out;
        for (Index i = log.first_index(); i <= log.last_index(); ++i)
            out.push_back(*log.term(i));
        return out;
    }

    void execute(const std::vector<std::string>& w) {
        const std::string& cmd = w[0];
        if (cmd == "config") {
            for (std::size_t i = 1; i < w.size(); ++i) {
                const auto eq = w[i].find('=');
                const std::string key = w[i].substr(0, eq);
                const std::uint64_t v = std::stoull(w[i].substr(eq + 1));
                if (key == "pre_vote")
                    config_.pre_vote = v != 0;
                if (key == "check_quorum")
                    config_.check_quorum = v != 0;
                if (key == "max_msg_bytes")
                    config_.max_msg_bytes = v;
                if (key == "max_inflight")
                    config_.max_inflight_msgs = v;
                if (key == "chunk")
                    config_.max_snapshot_chunk_bytes = v;
            }
        } else if (cmd == "log") {
            for (std::size_t i = 2; i < w.size(); ++i)
                logs_[id(w[1])].push_back(std::stoull(w[i]));
        } else if (cmd == "hardterm") {
            min_term_ = std::stoull(w[1]);
        } else if (cmd == "nodes") {
            cluster_ = std::make_unique<Cluster>(1, config_);
            Membership m;
            for (std::size_t i = 1; i < w.size(); ++i)
                m.voters.push_back(id(w[i]));
            std::sort(m.voters.begin(), m.voters.end());
            for (NodeId n : m.voters)
                cluster_->add_node(n, m, logs_[n], HardState{min_term_, 0, 0});
        } else if (cmd == "joiner") {
            cluster_->add_node(id(w[1]), Membership{});
        } else if (cmd == "campaign" || cmd == "elect") {
            cluster_->core(id(w[1])).campaign();
            if (cmd == "elect")
                cluster_->deliver_all();
        } else if (cmd == "tick") {
            const int n = std::stoi(w[2]);
            for (int i = 0; i < n; ++i) {
                for (NodeId x : cluster_->ids()) {
                    if (w[1] == "all" || x == id(w[1]))
                        cluster_->tick_node(x);
                }
            }
        } else if (cmd == "run") {
            const int n = std::stoi(w[1]);
            for (int i = 0; i < n; ++i) {
                for (NodeId x : cluster_->ids())
                    cluster_->tick_node(x);
                cluster_->deliver_all();
            }
        } else if (cmd == "deliver") {
            cluster_->deliver_all();
        } else if (cmd == "deliver-only") {
            std::set<MessageType> types;
            for (std::size_t i = 1; i < w.size(); ++i)
                types.insert(kTypes.at(w[i]));
            cluster_->deliver_only(types);
        } else if (cmd == "drop") {
            cluster_->drop_all();
        } else if (cmd == "isolate") {
            cluster_->isolate(id(w[1]));
        } else if (cmd == "partition") {
            std::vector<std::vector<NodeId>> groups(1);
            for (std::size_t i = 1; i < w.size(); ++i) {
                if (w[i] == "/") {
                    groups.emplace_back();
                } else {
                    groups.back().push_back(id(w[i]));
                }
            }
            cluster_->partition(groups);
        } else if (cmd == "cut") {
            cluster_->cut(id(w[1]), id(w[2]));
        } else if (cmd == "heal") {
            cluster_->heal();
        } else if (cmd == "crash") {
            cluster_->crash(id(w[1]));
        } else if (cmd == "restart") {
            cluster_->restart(id(w[1]));
        } else if (cmd == "propose") {
            expect_refusal(cluster_->propose(id(w[1]), w[2]).refusal, w, 3);
        } else if (cmd == "conf") {
            const std::string& kind = w[2];
            ConfChange cc{kind == "add-learner" ? ConfChangeType::AddLearner
                          : kind == "promote"   ? ConfChangeType::PromoteLearner
                                                : ConfChangeType::RemoveNode,
                          id(w[3])};
            expect_refusal(cluster_->core(id(w[1])).propose_conf_change(cc).refusal, w, 4);
        } else if (cmd == "transfer") {
            expect_refusal(cluster_->core(id(w[1])).transfer_leadership(id(w[2])), w, 3);
        } else if (cmd == "snapshot") {
            CHECK_MESSAGE(cluster_->take_snapshot(id(w[1]), std::stoull(w[2])),
                          where() << "nothing new to snapshot");
        } else if (cmd == "read") {
            expect_refusal(cluster_->read(id(w[1]), w[2]), w, 3);
        } else if (cmd == "expect") {
            expect(w);
        } else {
            FAIL_CHECK(where() << "unknown command " << cmd);
        }
    }

    void expect(const std::vector<std::string>& w) {
        const std::string& what = w[1];
        if (what == "installed") {
            CHECK_MESSAGE(
                cluster_->counters().snapshots_installed == std::stoull(w[2]),
                where() << "snapshots installed: " << cluster_->counters().snapshots_installed);
            return;
        }
        const NodeId n = id(w[2]);
        if (what == "down") {
            CHECK_MESSAGE(!cluster_->node(n).up(), where() << "node " << n << " is up");
            return;
        }
        REQUIRE_MESSAGE(cluster_->node(n).up(), where() << "node " << n << " is down");
        Core& core = cluster_->core(n);
        std::vector<std::string> rest(w.begin() + 3, w.end());
        if (what == "role") {
            CHECK_MESSAGE(role_name(core.role()) == w[3],
                          where() << "node " << n << " is " << role_name(core.role()));
        } else if (what == "leader") {
            CHECK_MESSAGE(core.leader() == id(w[3]),
                          where() << "node " << n << " follows " << core.leader());
        } else if (what == "term") {
            CHECK_MESSAGE(core.term() == std::stoull(w[3]), where() << "term is " << core.term());
        } else if (what == "commit") {
            CHECK_MESSAGE(core.commit_index() == std::stoull(w[3]),
                          where() << "commit is " << core.commit_index());
        } else if (what == "log") {
            std::vector<Term> want;
            for (const auto& t : rest)
                want.push_back(std::stoull(t));
            const auto got = log_terms(n);
            std::string shown;
            for (Term t : got)
                shown += std::to_string(t) + " ";
            CHECK_MESSAGE(got == want, where() << "log terms of " << n << ": " << shown);
        } else if (what == "applied") {
            const auto& got = cluster_->node(n).applied_data;
            std::string shown;
            for (const auto& d : got)
                shown += d + " ";
            CHECK_MESSAGE(got == rest, where() << "applied on " << n << ": " << shown);
        } else if (what == "read") {
            const auto& reads = cluster_->node(n).reads;
            const bool found = std::any_of(reads.begin(), reads.end(),
                                           [&](const ReadState& r) { return r.context == w[3]; });
            CHECK_MESSAGE(found, where() << "no ReadState " << w[3] << " on " << n);
        } else if (what == "no-read") {
            const auto& reads = cluster_->node(n).reads;
            const bool found = std::any_of(reads.begin(), reads.end(),
                                           [&](const ReadState& r) { return r.context == w[3]; });
            CHECK_MESSAGE(!found, where() << "unexpected ReadState " << w[3] << " on " << n);
        } else if (what == "voters" || what == "learners") {
            const auto& got =
                what == "voters" ? core.membership().voters : core.membership().learners;
            std::vector<NodeId> want;
            for (const auto& x : rest)
                want.push_back(id(x));
            CHECK_MESSAGE(got == want, where() << what << " differ on " << n);
        } else {
            FAIL_CHECK(where() << "unknown expectation " << what);
        }
    }

    std::string name_;
    int line_no_ = 0;
    Config config_;
    std::map<NodeId, std::vector<Term>> logs_;
    Term min_term_ = 0;
    std::unique_ptr<Cluster> cluster_;
};

}  // namespace

TEST_CASE("scenario scripts") {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(ANNAL_RAFT_SCENARIO_DIR)) {
        if (e.path().extension() == ".txt")
            files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 8);
    for (const auto& f : files) {
        SUBCASE(f.filename().string().c_str()) {
            std::ifstream in(f);
            REQUIRE(in.good());
            Script(f.filename().string()).run(in);
        }
    }
}
