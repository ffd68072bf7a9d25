// Dynamic work distribution over the world's ranks. Rank 0 coordinates: it hands the next unit
// of work to whichever rank asks first (itself included: its coordinator runs on a second thread
// while its main thread works) and receives each unit's result, so ranks that draw cheap units
// take more of them. Units and results are byte strings whose meaning belongs to the job (a
// sweep's unit is a list of grid points, its result their CSV rows).
//
// Messages (tags): a worker asks with the result of its previous unit (empty the first time),
// rank 0 answers with a unit or "stop"; a worker whose unit threw sends the error instead and
// stops. In a one-process world the same loop runs without threads or messages.
#pragma once
#include <functional>
#include <string>

namespace stuckat::cluster {

enum class NextUnit {
  kUnit,      // *unit holds the next unit
  kLater,     // none now: more may come when units still running finish (the coordinator waits)
  kFinished,  // none will come: ranks that ask are told to stop
};

// Rank 0's side, called on its coordinator thread only (one call at a time).
class WorkCoordinator {
 public:
  virtual ~WorkCoordinator() = default;
  virtual NextUnit next(std::string* unit) = 0;
  // A unit's result, as the units finish (not in the order they were handed out).
  virtual void finished(const std::string& unit, const std::string& result, int rank) = 0;
};

// What every rank does with a unit; may throw (InputError for bad input).
using WorkFunction = std::function<std::string(const std::string& unit)>;

// Runs the queue on every rank of the world: rank 0 passes its coordinator, the others nullptr.
// Returns when every rank has stopped. A failure (a unit that threw anywhere, or the
// coordinator's own) stops handing out work; rank 0 then rethrows it, naming the rank where it
// happened (an InputError stays an InputError), and the rank that failed throws RankFailed.
void run_work_queue(WorkCoordinator* coordinator, const WorkFunction& work);

// Runs `setup` (reading flags and files) on every rank and agrees on the outcome, so no rank goes
// on to wait for one that failed: when it threw on any rank, every rank throws. A rank where it
// threw rethrows its error (ranks > 0 only when rank 0 succeeded: the same bad flag is then said
// once, by rank 0); the others throw RankFailed{2}.
void setup_on_every_rank(const std::function<void()>& setup);

// Thrown on a rank > 0 whose unit failed (rank 0 reports the error): exit with `code`, say nothing.
struct RankFailed {
  int code = 1;
};

// Rank 0 of a distributed job: writes `text` to stderr and exits 143 when the launcher ends the
// job with SIGTERM (mpirun does so to every rank when one dies), instead of dying silently.
void say_on_termination(const std::string& text);

}  // namespace stuckat::cluster
