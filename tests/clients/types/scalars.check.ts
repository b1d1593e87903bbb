// Compiled with the generated types (tsc --noEmit, see codegen.test.js):
// each scalar must have its documented type. Were one typed `any`, the
// `@ts-expect-error` lines below would have no error to expect and tsc
// would fail.
import type { AccountQuery, DepositMutation, DepositMutationVariables, EventAppendedSubscription, JsonValue } from '../generated/graphql.js';

declare const account: NonNullable<AccountQuery['account']>;
declare const deposit: DepositMutation['deposit'];
declare const event: EventAppendedSubscription['eventAppended'];

export const version: number = account.version;
export const balance: string = account.balance;
export const openedAt: string = account.openedAt;
export const data: JsonValue = event.data;
export const metadata: JsonValue = deposit.events[0].metadata;

// @ts-expect-error Long is a number, not a string
export const versionAsString: string = account.version;
// @ts-expect-error Decimal is a string, not a number
export const balanceAsNumber: number = account.balance;
// @ts-expect-error DateTime is a string, not a Date
export const openedAtAsDate: Date = account.openedAt;
// @ts-expect-error JSON is a JSON value: a function is not one
export const dataAsFunction: () => void = event.data;

export const input: DepositMutationVariables = { input: { accountId: 'a', amount: '1.50' } };
// @ts-expect-error Decimal input is a string
export const floatInput: DepositMutationVariables = { input: { accountId: 'a', amount: 1.5 } };
