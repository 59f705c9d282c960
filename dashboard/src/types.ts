/**
 * The API's JSON shapes and the lists they draw on, from their one home: the API's contract
 * (api/contract/responses.ts, types only: erased from the bundle) and the constant lists in core/
 * (plain modules, bundled as they are).
 */
import type * as contract from '../../api/contract/responses';

export { ROLES, type Role } from '../../core/roles';
export { QUALITIES, type Quality } from '../../core/catalog';
export { SESSION_STATES, type SessionState } from '../../core/session-snapshot';
export { AUDIT_ACTIONS } from '../../core/audit-actions';
export { NODE_STATES, type NodeState } from '../../core/node-names';

export type TokenPair = contract.TokenPair;
export type SignInMethods = contract.SignInMethods;
export type AppList = contract.AppList;
export type AppEntry = AppList['apps'][number];
export type Me = contract.Me;
export type QuotaFields = contract.QuotaFields;
export type QuotaResponse = contract.QuotaResponse;
export type ConnectDescriptor = contract.ConnectDescriptor;
/** A session as listed; create and connect answers add one-time connect credentials. */
export type Session = contract.SessionView & { connect?: ConnectDescriptor };
export type SessionPage = contract.SessionPage;
export type OneTimeCode = contract.OneTimeCode;
export type User = contract.UserView;
export type Overview = contract.AdminOverview;
export type StartStats = Overview['starts']['warm'];
export type DependencyStatus = Overview['dependencies']['database'];
export type AuditEvent = contract.AuditEntry;
export type AuditPage = contract.AuditPage;
export type Node = contract.NodeViewBody;
export type NodeList = contract.NodeListBody;
