// The zod schemas of every REST input. Ids are JSON numbers in bodies (as
// rim's serde wanted) and decimal strings in queries.
import { z } from "zod";
import { MAX_ID } from "../domain/context";

export const id = z.number().int().min(1).max(MAX_ID);
export const queryId = z.coerce.number().int().min(1).max(MAX_ID);
const page = z.number().int().min(1).max(1_000_000).default(1);
const size = (max: number) => z.number().int().min(1).max(max).default(20);

export const account = z
  .string()
  .min(3)
  .max(64)
  .regex(/^[A-Za-z0-9_.\-@]+$/, "letters, digits and _ . - @ only");
const password = z.string().min(6).max(256);
const name = z.string().trim().max(64);
const avatar = z.string().max(2048);
const email = z.union([z.literal(""), z.email().max(254)]);

export const createUserBody = z.object({
  account,
  password,
  // rim's demo client leaves out the fields a user did not type.
  name: name.optional(),
  avatar: avatar.default(""),
  email: email.default(""),
  invite: z.string().min(1).max(64).optional(),
});

export const passwordBody = z.object({ oldPassword: z.string().max(256), newPassword: password });
// Up to 80, not 64: an account renamed by the case-insensitivity migration ("bob~2") may be longer than new ones can be.
export const loginBody = z.object({ account: z.string().max(80), password: z.string().max(256) });
export const uidQuery = z.object({ uid: queryId });
/** A uid that may only name the caller; left out, it means the caller. */
export const ownUidQuery = z.object({ uid: queryId.optional() });
export const tokenQuery = z.object({ token: z.string().min(1).max(200) });
export const accountQuery = z.object({ account: z.string().min(1).max(80) });

const role = z.union([z.literal(1), z.literal(2)]);
export const createGroupBody = z.object({
  group: z.object({
    name: z.string().trim().max(100).default(""),
    avatar: avatar.default(""),
    mode: z.union([z.literal(1), z.literal(2)]),
    creatorUid: id.optional(),
  }),
  users: z.array(z.object({ uid: id, role: role.default(1) })).max(1000).default([]),
});
export const updateGroupBody = z
  .object({ id, name: z.string().trim().min(1).max(100).optional(), avatar: avatar.optional() })
  .refine((b) => b.name !== undefined || b.avatar !== undefined, { message: "name or avatar is required", path: ["name"] });
export const gidQuery = z.object({ gid: queryId });
export const changeMembersBody = z.object({
  gid: id,
  uids: z.array(id).min(1).max(1000),
  opType: z.union([z.literal(1), z.literal(2)]),
});

export const chatListBody = z.object({ uid: id.optional(), page, size: size(100) });
export const historyBody = z.object({ gid: id, uid: id.optional(), page, size: size(200), beforeId: id.optional() });
export const groupReadBody = z.object({ gid: id, uid: id.optional() });

export const friendAddBody = z.object({ fid: id, uid: id.optional() });
export const friendListQuery = z.object({
  status: z.enum(["0", "1", "2"]).transform(Number).pipe(z.union([z.literal(0), z.literal(1), z.literal(2)])),
  dir: z.enum(["in", "out"]).default("out"),
});
/** The upload's query; the name's rules (domain/files.ts checkFileName) are checked by the route, for their messages. */
export const uploadQuery = z.object({ name: z.string().min(1).max(255).describe("the file's name: 1-255 characters, no / or \\, no control characters") });

export const friendModifyBody = z.object({ fid: id, status: z.union([z.literal(1), z.literal(2)]), uid: id.optional() });

export const gidBody = z.object({ gid: id });
export const transferBody = z.object({ gid: id, uid: id });
export const roleBody = z.object({ gid: id, uid: id, role: z.union([z.literal(1), z.literal(2)]).describe("1 member, 2 admin") });

export const adminUsersQuery = z.object({
  q: z.string().max(64).optional(),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  size: z.coerce.number().int().min(1).max(100).default(50),
});
export const uidBody = z.object({ uid: id });
export const adminPasswordBody = z.object({ uid: id, password: z.string().min(6).max(256) });
export const inviteIdBody = z.object({ id });
export const settingsBody = z.object({
  registration: z.enum(["open", "invite", "closed"]).optional(),
  inviters: z.enum(["members", "admins"]).optional().describe("who may create invites: every member, or admins only"),
});

export const directoryQuery = z.object({
  q: z.string().max(64).default(""),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
export const profileBody = z.object({ name: name.optional(), avatar: avatar.optional(), email: email.optional() });

export const searchQuery = z.object({
  q: z.string().min(1).max(200),
  gid: queryId.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  beforeId: queryId.optional(),
});
