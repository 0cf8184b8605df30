// The control words a machine shares with each of its vCPU threads (one
// Int32Array over a SharedArrayBuffer per vCPU): what the machine wants of the
// vCPU, what state the vCPU is in, and the wake-ups between them. Both sides
// import this file; neither imports the other's code for it.

/** Layout of the control words shared between the machine and one vCPU thread. */
export const Ctl = {
  /** Command from the machine: RUN, PAUSE or STOP. */
  CMD: 0,
  /** State published by the vCPU thread. */
  STATE: 1,
  /** Bumped by the machine to wake a paused vCPU. */
  RESUME: 2,
  /** VM-wide device lock (only in the first vCPU's control block). */
  LOCK: 3,
  /** Set by the machine when it posted commands on the command port. */
  PENDING: 4,
  /** Bumped by the machine whenever it writes the vCPU's registers. */
  STATE_WRITES: 5,
  /** VM-wide sequence of device events (only in the first vCPU's control block): keeps their order across threads. */
  EVENT_SEQ: 6,
  /**
   * Set by the machine when host input reached a device (serial input) or it
   * kicks a vCPU: the vCPU runs the device polls at once, and a vCPU idling
   * in HLT (waiting on this word) wakes.
   */
  WAKE: 7,
  /**
   * Set by the machine, before it bumps RESUME, when the resume is a single
   * instruction step: the commonest order a debugger gives, so it travels in
   * this word rather than as a posted command (a message costs a wake-up of
   * the vCPU thread's event loop and a copy on each side). The vCPU takes it
   * when it resumes.
   */
  STEP: 8,
  /**
   * Bumped by the vCPU thread after each report it posts: the machine can
   * watch for reports with a load of this word, which allocates nothing,
   * where polling the port would allocate on every try (Machine.pollReports).
   */
  REPORTS: 9,
  WORDS: 10,
} as const;

export const Cmd = { RUN: 0, PAUSE: 1, STOP: 2 } as const;
export const State = { STARTING: 0, RUNNING: 1, PAUSED: 2, FINISHED: 3 } as const;

/** Highest exit code vmscope keeps a counter for (counters are indexed by code). */
export const MAX_EXIT_CODE = 63;
