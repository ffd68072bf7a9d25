// A mark in the GPU's work queue (a CUDA event on the stream all our work runs on), for tracing
// how long the device spends on a stretch of queued work without synchronising: record one mark
// before the work and one after, and once a later wait (a copy to the host, say) has passed both,
// ms_between gives the device time from the first to the second, idle gaps included. Host code
// includes this header; it needs no CUDA headers. Without CUDA, marks record nothing and
// ms_between is 0.
#pragma once

namespace stuckat::cuda {

#ifdef STUCKAT_WITH_CUDA
class QueueMark {
 public:
  QueueMark() = default;
  ~QueueMark();
  QueueMark(QueueMark&& other) noexcept : event_(other.event_) { other.event_ = nullptr; }
  QueueMark& operator=(QueueMark&& other) noexcept;
  QueueMark(const QueueMark&) = delete;
  QueueMark& operator=(const QueueMark&) = delete;

  void record();                   // after everything queued so far (creates the event on first use)
  bool recorded() const { return event_ != nullptr; }
  // Device ms from `earlier` to this mark; waits for this mark if the device has not reached it.
  // -1 when either was never recorded.
  double ms_since(const QueueMark& earlier) const;

 private:
  void* event_ = nullptr;  // cudaEvent_t
};
#else
class QueueMark {
 public:
  void record() {}
  bool recorded() const { return false; }
  double ms_since(const QueueMark&) const { return -1; }
};
#endif

}  // namespace stuckat::cuda
