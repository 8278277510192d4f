/**
 * The op the start-up benchmark calls first in a fresh process (startup.bench.ts): typed,
 * so the transformer injects its checks, and with a retry policy, so the call takes the
 * policy path a real model-calling op takes (its first attempt never needs Effect).
 */
import { op } from "weft";

interface Ticket {
  id: string;
  subject: string;
  tags: string[];
  priority: "low" | "normal" | "high";
  customer: { name: string; plan: "free" | "pro" };
}

interface Triage {
  queue: string;
  urgent: boolean;
}

export const triage = op({ retry: { times: 2 } }, async (ticket: Ticket): Promise<Triage> => ({
  queue: ticket.customer.plan === "pro" ? "priority" : "general",
  urgent: ticket.priority === "high" || ticket.tags.includes("outage"),
}));

/** The first call's argument. */
export const TICKET: Ticket = { id: "T-1", subject: "cannot log in", tags: ["auth", "outage"], priority: "high", customer: { name: "Ada", plan: "pro" } };
